"""The prediction log: every answered prediction, committed before its answer is sent.

A :class:`PredictionLog` owns one writer thread. The server hands it a batch once the
batch is predicted and holds the batch's answers until :meth:`PredictionLog.write`'s
future says the rows are committed; if the commit fails, the answers become 503s. So an
acknowledged prediction is in the table ``predictions`` even when the server is killed
with ``kill -9`` right after answering (SQLite in WAL mode, or PostgreSQL, keeps a
committed transaction when the process dies).

The thread commits whatever batches are waiting in one transaction (a group commit):
under load, one commit covers many batches, and the event loop never waits on the disk.

>>> import tempfile, pathlib
>>> from prodml.store.database import Database
>>> log = PredictionLog(Database(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'p.db'}"))
>>> row = entry("r-1", "loans", "loans", 3, {"income": 41000.0}, {"label": 1}, 0.9, 0.002)
>>> log.write([row]).result()
>>> log.close()
>>> log.count()
1
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Table, bindparam, func, insert, select
from sqlalchemy.types import JSON, TypeDecorator

from prodml.store.database import Database
from prodml.store.tables import PredictionRow

logger = logging.getLogger("prodml.serve")

Rows = Sequence[dict[str, Any]] | Callable[[], Sequence[dict[str, Any]]]


class _Encoded(TypeDecorator[Any]):
    """A JSON column whose values arrive as JSON text already (orjson is ten times faster
    than the json module SQLAlchemy would call); PostgreSQL still gets a ``::JSON`` cast."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Any) -> None:
        return None


_TABLE = cast(Table, PredictionRow.__table__)
_INSERT = insert(_TABLE).values(
    inputs=bindparam("inputs", type_=_Encoded()), outputs=bindparam("outputs", type_=_Encoded())
)
_STOP = object()


def entry(
    request_id: str,
    endpoint: str,
    model_name: str,
    model_version: int,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    confidence: float | None,
    latency_seconds: float,
    role: str = "primary",
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """One row of ``predictions``, as the insert takes it (``inputs`` and ``outputs`` as
    JSON text)."""
    return {
        "request_id": request_id,
        "created_at": created_at or datetime.now(UTC),
        "endpoint": endpoint,
        "model_name": model_name,
        "model_version": model_version,
        "role": role,
        "inputs": orjson.dumps(inputs).decode(),
        "outputs": orjson.dumps(outputs).decode(),
        "confidence": confidence,
        "latency_seconds": latency_seconds,
    }


class PredictionLog:
    """Writes batches of prediction rows on a thread of its own; see the module docstring."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # One connection for the thread's life, not a checkout from the pool (and a
        # rollback on its return) for every commit; dropped after a failure, opened anew.
        self._connection: Connection | None = None
        self._thread = threading.Thread(target=self._run, name="prodml-prediction-log")
        self._thread.start()
        self._closed = False

    def write(self, rows: Rows) -> Future[None]:
        """Insert ``rows`` (see :func:`entry`) in one transaction; the future is done once
        they are committed, or holds the error that stopped them. ``rows`` may be a
        function that makes them, called on the log's thread, off the event loop."""
        done: Future[None] = Future()
        if self._closed:
            done.set_exception(RuntimeError("the prediction log is closed"))
            return done
        self._queue.put((rows, done))
        return done

    def close(self) -> None:
        """Commit what is waiting, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()

    def count(self) -> int:
        """Rows in the table (of every server that writes to this database)."""
        with self.database.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(_TABLE)).scalar_one())

    def _run(self) -> None:
        stop = False
        while not stop:
            group = [self._queue.get()]
            while True:  # everything waiting goes into one transaction
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if _STOP in group:
                stop = True
                group = [item for item in group if item is not _STOP]
            if group:
                self._commit(group)
        self._disconnect()

    def _commit(self, group: list[tuple[Rows, Future[None]]]) -> None:
        rows: list[dict[str, Any]] = []
        try:
            for batch, _ in group:
                rows.extend(batch() if callable(batch) else batch)
            if self._connection is None:
                self._connection = self.database.engine.connect()
            with self._connection.begin():
                self._connection.execute(_INSERT, rows)
        except Exception as exc:  # the answers become 503s; the cause goes to the log
            logger.exception("the prediction log could not commit %d rows", len(rows))
            self._disconnect()
            for _, done in group:
                done.set_exception(exc)
            return
        for _, done in group:
            done.set_result(None)

    def _disconnect(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # a broken connection is dropped either way
                self._connection.close()
            self._connection = None
