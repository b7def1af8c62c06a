"""What a run records about where it ran: code version, Python, packages.

>>> env = environment()
>>> sorted(env)[:2], "scikit-learn" in env["packages"]
(['machine', 'packages'], True)
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

#: Always recorded; the model's own package (xgboost, lightgbm...) is added per run.
PACKAGES = ("prodml", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "skops")


def code_version(folder: Path) -> tuple[str | None, bool | None]:
    """The git commit of ``folder`` and whether it has uncommitted changes.

    ``(None, None)`` when the folder is not in a git repository (or git is missing).
    """
    try:
        commit = _git(folder, "rev-parse", "HEAD")
        status = _git(folder, "status", "--porcelain", "--", ".")
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit.strip(), bool(status.strip())


def environment(model_module: str | None = None) -> dict[str, Any]:
    """Python version, platform and the versions of the packages a run depends on."""
    names = list(PACKAGES)
    if model_module:
        names += _distributions().get(model_module.split(".")[0], [])
    packages = {}
    for name in dict.fromkeys(names):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": packages,
    }


@functools.cache
def _distributions() -> dict[str, list[str]]:
    """Which installed packages provide each top-level module: read once per process,
    since it walks the file list of every installed package (tens of milliseconds)."""
    return dict(metadata.packages_distributions())


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
