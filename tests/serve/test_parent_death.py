"""``prodml serve --workers N`` killed with ``kill -9``: its workers stop too, within seconds,
instead of living on as orphans that hold the port and the store, and they stop cleanly:
every prediction they acknowledged is in the log."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from http.client import HTTPException
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select

import prodml
from prodml.store.tables import PredictionRow

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Launch

CLIENTS = 4
MAX_REQUESTS = 2_000  # a client's bound: orphans that never stop would answer them all
KILL_AFTER = 60  # acknowledged requests before the parent is killed
GONE_SECONDS = 10


def workers(parent: int) -> list[int]:
    """The worker processes of a server: its children started by multiprocessing's spawn."""
    children: list[int] = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    return [pid for pid in children if b"spawn_main" in _cmdline(pid)]


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its (dead) parent's reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def traffic(
    http: Http, url: str, records: list[dict[str, Any]], acked: list[str], stop: threading.Event
) -> None:
    """One client: single-record requests until the server is gone (or told to stop)."""
    for i in range(MAX_REQUESTS):
        if stop.is_set():
            return
        try:
            answer = http.post(f"{url}/predict", {"records": [records[i % len(records)]]})
        except (OSError, HTTPException):  # refused, reset, or cut off mid-answer
            return
        if answer.status == 200:
            acked.extend(p["request_id"] for p in answer.json()["predictions"])


def test_killing_the_parent_stops_every_worker_after_logging_what_it_answered(
    http: Http, launch: Launch, spare_project: Path, bc_features: pd.DataFrame
) -> None:
    server = launch(spare_project, "--workers", "2")
    pids = workers(server.process.pid)
    assert len(pids) == 2, pids
    records = http.records(bc_features.iloc[:20])
    acked: list[str] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=traffic, args=(http, server.url, records, acked, stop))
        for _ in range(CLIENTS)
    ]
    try:
        for client in clients:
            client.start()
        while len(acked) < KILL_AFTER and any(c.is_alive() for c in clients):
            time.sleep(0.005)
        os.kill(server.process.pid, signal.SIGKILL)
        assert server.process.wait(timeout=30) == -signal.SIGKILL
        deadline = time.monotonic() + GONE_SECONDS
        while any(map(alive, pids)) and time.monotonic() < deadline:
            time.sleep(0.05)
        orphans = [pid for pid in pids if alive(pid)]
        assert not orphans, f"workers {orphans} outlived their parent by {GONE_SECONDS}s"
    finally:
        stop.set()
        for pid in pids:  # whatever the outcome, no process of this test outlives it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for client in clients:
            client.join(timeout=60)

    assert len(acked) >= KILL_AFTER
    with prodml.Project(spare_project) as project, project.runs_store.database.session() as s:
        logged = set(s.scalars(select(PredictionRow.request_id)))
    lost = [request_id for request_id in acked if request_id not in logged]
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged predictions are not logged"
