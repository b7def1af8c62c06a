"""Soak, measured: one ``prodml serve`` worker under an open loop of single-row requests
for ``--minutes``, sampled once a minute. Prints one JSON object.

The project is the serving benchmark's (:func:`benchmarks.serving.bench_prodml.prepare`:
``prodml init --example breast-cancer``, ``prodml fit``, ``prodml models register --force``;
logging on, into the project's SQLite store), served by ``prodml serve`` with one worker
(uvicorn runs in the process it starts, so that process's RSS is the server's). The load is
:func:`benchmarks.serving.load.open_loop` at ``--rate`` requests a second, run one minute
at a time, so each minute has its own percentiles and no more than a minute of latencies
is held; between two minutes it only waits for the last answers (milliseconds).

After each minute: the server's RSS, the sizes of the database file and of its
write-ahead log (and the largest the log was during the minute, looked at every second),
the rows of the prediction log, and the store's size as SQLite counts it (pages in use
times page size, the write-ahead log's pages included: the files alone lag behind the
checkpoints).

    python -m benchmarks.soak.bench_soak WORK_DIR [--minutes 60] [--rate 500]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

from benchmarks.serving import load
from benchmarks.serving.bench_prodml import logged, prepare
from benchmarks.serving.common import WORKLOADS, beside, free_port, request, server
from benchmarks.shared import versions

#: the example's own model (a scaled logistic regression)
WORKLOAD = WORKLOADS[0]
#: what each minute keeps of what the open loop returns
LOAD_KEYS = ("requests", "answered", "ok", "broken", "unanswered", "p50", "p90", "p99")
#: seconds between two looks at the write-ahead log's size
WAL_EVERY = 1.0


def rss(pid: int) -> int:
    """Resident memory of process ``pid``, bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kilobytes) * 1024


def size(path: Path) -> int:
    """Bytes of ``path``; 0 while it does not exist (SQLite removes an empty WAL)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def store_bytes(database: Path) -> int:
    """The database's size as a reader sees it: pages in use times the page size."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        pages, free, page = (
            db.execute(f"pragma {name}").fetchone()[0]
            for name in ("page_count", "freelist_count", "page_size")
        )
    return int((pages - free) * page)


class WalPeak:
    """The largest size of a write-ahead log since the last :meth:`take`, looked at every
    WAL_EVERY seconds on a thread of its own (the load runs on the main thread)."""

    def __init__(self, wal: Path) -> None:
        self.wal = wal
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def take(self) -> int:
        """The peak since the last call (the current size included); starts a new one."""
        peak, self._peak = max(self._peak, size(self.wal)), 0
        return peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(WAL_EVERY):
            self._peak = max(self._peak, size(self.wal))


def sample(pid: int, folder: Path) -> dict[str, int]:
    """What the server and its store hold now."""
    database = folder / ".prodml" / "prodml.db"
    return {
        "rss_bytes": rss(pid),
        "database_bytes": size(database),
        "wal_bytes": size(database.with_name("prodml.db-wal")),
        "store_bytes": store_bytes(database),
        "rows": logged(folder),
    }


def soak(work: Path, minutes: int, rate: float) -> dict[str, Any]:
    print(f"soak: {minutes} min at {rate:g} requests/s", file=sys.stderr)
    folder = prepare(work, WORKLOAD)
    body = request(work, WORKLOAD).body
    port = free_port()
    command = [beside("prodml"), "serve", "--project", str(folder), "--port", str(port)]
    with server(command, work / "soak-server.log", port) as (url, pid):
        invocations = f"{url}/invocations"
        load.open_loop(invocations, body, rate, 5)  # warm-up: imports, first batches, caches
        start = sample(pid, folder)
        peak = WalPeak(folder / ".prodml" / "prodml.db-wal")
        per_minute = []
        try:
            for minute in range(1, minutes + 1):
                answered = load.open_loop(invocations, body, rate, 60)
                per_minute.append(
                    {
                        "minute": minute,
                        **sample(pid, folder),
                        "wal_peak_bytes": peak.take(),
                        **{key: answered[key] for key in LOAD_KEYS},
                    }
                )
                line = per_minute[-1]
                print(
                    f"  minute {minute}: rss {line['rss_bytes'] / 2**20:.1f} MiB, "
                    f"wal {line['wal_peak_bytes'] / 2**20:.1f} MiB at most, "
                    f"{line['rows']} rows, p99 {line['p99']}",
                    file=sys.stderr,
                )
        finally:
            peak.stop()
    return {
        "versions": versions("prodml", "uvicorn", "scikit-learn", "numpy", "pandas"),
        "rate": rate,
        "minutes": minutes,
        "start": start,
        "per_minute": per_minute,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="a folder for the project and the server's log")
    parser.add_argument("--minutes", type=int, default=60, help="how long the load runs")
    parser.add_argument("--rate", type=float, default=500.0, help="requests a second")
    args = parser.parse_args()
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the JSON alone
        result = soak(args.work.resolve(), args.minutes, args.rate)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
