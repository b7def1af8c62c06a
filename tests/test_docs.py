"""The README's two commands are the ones CI and a new user run, and they are well formed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [line for block in blocks for line in block.splitlines() if ".venv/bin/" in line]


def test_readme_has_a_demo_command_and_a_test_command() -> None:
    commands = readme_commands()
    demo = [c for c in commands if c.endswith(".venv/bin/prodml demo")]
    tests = [c for c in commands if c.endswith(".venv/bin/pytest")]
    assert len(demo) == 1 and len(tests) == 1
    assert demo[0].startswith("python3 -m venv .venv && ")
    assert "'.[test]'" in tests[0]
    for command in (demo[0], tests[0]):
        for part in command.split("&&"):
            shlex.split(part)  # each step parses as a shell command


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    test_command = next(c for c in readme_commands() if c.endswith(".venv/bin/pytest"))
    assert test_command in ci


def test_readme_usage_names_only_real_commands() -> None:
    from typer.main import get_command

    from prodml.cli import app

    cli = get_command(app)
    names = set(cli.commands) | {"runs list", "runs show", "runs compare"}  # type: ignore[attr-defined]
    readme = (ROOT / "README.md").read_text()
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", readme, flags=re.S))
    used = re.findall(r"^prodml ((?:runs )?[a-z]+)", blocks, flags=re.M)
    assert used and set(used) <= names
