"""A server's instructions, counted by ``valgrind --tool=callgrind``: a measure of its CPU
cost that other work on the machine does not change (the same count, give or take a few
tenths of a percent, whatever the load), for comparisons a 2-core machine's wall clock is
too noisy to make.

The server starts under callgrind with instrumentation off (its start-up is not counted
and runs only a few times slower); :meth:`Counter.count` switches it on, zeroes the counts,
runs a phase and dumps them: the instructions of every thread of the server during the
phase. A server also works while idle (the prediction log's checkpoints, the deployment's
refresh), at a rate :meth:`Counter.idle_rate` measures, so that a phase's own count is its
total less that rate times its seconds (phases under callgrind last tens of seconds, and
two phases' lengths differ).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: How long the idle rate is measured, seconds.
IDLE_SECONDS = 20.0


def under_callgrind(command: list[str], work: Path) -> list[str]:
    """``command`` run by callgrind, instrumentation off, its dumps in ``work``."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={work}/callgrind.%p.out",
        *command,
    ]


@dataclass
class Counter:
    """The counts of the server ``pid`` (callgrind's own process) dumped into ``work``."""

    pid: int
    work: Path
    _dumps: int = 0

    def count(self, phase: Callable[[], object]) -> tuple[int, float]:
        """The instructions the server ran during ``phase()``, and the phase's seconds."""
        self._control("--instr=on")
        self._control("--zero")
        started = time.perf_counter()
        phase()
        seconds = time.perf_counter() - started
        self._control("--dump")
        self._dumps += 1
        dump = self.work / f"callgrind.{self.pid}.out.{self._dumps}"
        summary = next(
            line for line in dump.read_text().splitlines() if line.startswith("summary:")
        )
        return int(summary.split()[1]), seconds

    def idle_rate(self) -> float:
        """Instructions a second the server runs with no request."""
        instructions, seconds = self.count(lambda: time.sleep(IDLE_SECONDS))
        return instructions / seconds

    def _control(self, option: str) -> None:
        subprocess.run(
            ["callgrind_control", option, str(self.pid)], check=True, capture_output=True
        )
