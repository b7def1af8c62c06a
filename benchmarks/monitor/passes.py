"""Monitor passes in one process, as ``prodml monitor --every`` runs them (``--once`` is a
process of one pass). Prints one JSON object: what each step took.

Steps, in the order given: ``pass`` times one pass of the project's monitor
(``Project.monitor``, the call behind ``prodml monitor``; the imports come before the
clock starts), ``window`` logs one more window of predictions with their labels
(untimed; see generate.py). The monitor and its state live as long as the process.

    python -m benchmarks.monitor.passes PROJECT STEP...
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import prodml
import prodml.monitor.monitor  # imported before the clock starts, as --every has them
import prodml.registry
from benchmarks.monitor import generate
from benchmarks.monitor.common import WINDOW, database, logged
from benchmarks.shared import peak_mib, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("steps", nargs="+", choices=["pass", "window"])
    args = parser.parse_args()
    found: list[dict[str, Any]] = []
    with contextlib.redirect_stdout(sys.stderr), prodml.Project(args.project) as project:
        for step in args.steps:
            if step == "window":
                generate.log(args.project, logged(database(args.project)), WINDOW)
                continue
            seconds, done = timed(project.monitor)
            found.append(
                {"seconds": seconds, "windows": len(done.windows), "updated": done.updated}
            )
            print(f"pass: {seconds:.2f} s, {len(done.windows)} new windows", file=sys.stderr)
    print(json.dumps({"passes": found, "peak_mib": peak_mib()}))


if __name__ == "__main__":
    main()
