"""Wall time, CPU time and peak memory of a block of work.

Peak memory is the resident-set high-water mark of the process during the block: on
Linux the mark is reset when the block starts (``/proc/self/clear_refs``), elsewhere it
is the process's peak so far.

>>> with measure() as usage:
...     _ = sum(range(1000))
>>> usage.wall_seconds >= 0 and usage.peak_memory_bytes > 0
True
"""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Usage:
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_memory_bytes: int = 0


@contextlib.contextmanager
def measure() -> Iterator[Usage]:
    """Measure the enclosed block; the numbers are filled in when it ends."""
    usage = Usage()
    _reset_peak()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield usage
    finally:
        usage.wall_seconds = time.perf_counter() - wall
        usage.cpu_seconds = time.process_time() - cpu
        usage.peak_memory_bytes = _peak()


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak() -> int:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
