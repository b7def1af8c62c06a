"""The prediction log: every answered prediction, committed before its answer is sent.

A :class:`PredictionLog` owns one writer thread. The server hands it a batch once the
batch is predicted and holds the batch's answers until :meth:`PredictionLog.write`'s
future says the rows are committed; if the commit fails, the answers become 503s. So an
acknowledged prediction is in the table ``predictions`` even when the server is killed
with ``kill -9`` right after answering (SQLite in WAL mode, or PostgreSQL, keeps a
committed transaction when the process dies).

The thread commits whatever batches are waiting in one transaction (a group commit):
under load, one commit covers many batches, and the event loop never waits on the disk.
On SQLite, the writers of several server processes take turns through a lock file
(:meth:`Database.queued`), not SQLite's sleeping busy handler, and the commits never
checkpoint the write-ahead log themselves (a checkpoint syncs the database file, which
stalls a commit for 100 ms or more on a slow disk): a second thread checkpoints it every
``CHECKPOINT_SECONDS``, without blocking the writer.

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
from prodml.store.tables import PredictionRow, RequestErrorRow

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
_ERRORS = insert(cast(Table, RequestErrorRow.__table__))
_STOP = object()
#: How often the write-ahead log of an SQLite store is checkpointed, off the commit path.
CHECKPOINT_SECONDS = 1.0


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
    run_id: str | None = None,
) -> dict[str, Any]:
    """One row of ``predictions``, as the insert takes it (``inputs`` and ``outputs`` as
    JSON text)."""
    return {
        "request_id": request_id,
        "created_at": created_at or datetime.now(UTC),
        "endpoint": endpoint,
        "model_name": model_name,
        "model_version": model_version,
        "run_id": run_id,
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
        self._stopping = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if database.is_sqlite:
            self._checkpointer = threading.Thread(
                target=self._checkpoint, name="prodml-log-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def write(self, rows: Rows) -> Future[None]:
        """Insert ``rows`` (see :func:`entry`) in one transaction; the future is done once
        they are committed, or holds the error that stopped them. ``rows`` may be a
        function that makes them, called on the log's thread, off the event loop."""
        return self._put(_INSERT, rows)

    def write_error(
        self, endpoint: str, protocol: str, status: int, latency_seconds: float
    ) -> Future[None]:
        """Count a request answered with an error (the monitor's error rate), in the next
        group commit; nobody waits for it."""
        row = {
            "created_at": datetime.now(UTC),
            "endpoint": endpoint,
            "protocol": protocol,
            "status": status,
            "latency_seconds": latency_seconds,
        }
        return self._put(_ERRORS, [row])

    def _put(self, statement: Any, rows: Rows) -> Future[None]:
        done: Future[None] = Future()
        if self._closed:
            done.set_exception(RuntimeError("the prediction log is closed"))
            return done
        self._queue.put((statement, rows, done))
        return done

    def close(self) -> None:
        """Commit what is waiting, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
            self._stopping.set()
            if self._checkpointer is not None:
                self._checkpointer.join()

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

    def _commit(self, group: list[tuple[Any, Rows, Future[None]]]) -> None:
        rows: dict[Any, list[dict[str, Any]]] = {}
        try:
            for statement, batch, _ in group:
                rows.setdefault(statement, []).extend(batch() if callable(batch) else batch)
            if self._connection is None:
                self._connection = self.database.engine.connect()
                if self.database.is_sqlite:  # see _checkpoint; outside any transaction
                    driver = self._connection.connection.driver_connection
                    cast(Any, driver).execute("PRAGMA wal_autocheckpoint=0")
            with self.database.queued("log"), self._connection.begin():
                for statement, values in rows.items():
                    if values:
                        self._connection.execute(statement, values)
        except Exception as exc:  # the answers become 503s; the cause goes to the log
            count = sum(len(values) for values in rows.values())
            logger.exception("the prediction log could not commit %d rows", count)
            self._disconnect()
            for *_, done in group:
                done.set_exception(exc)
            return
        for *_, done in group:
            done.set_result(None)

    def _checkpoint(self) -> None:
        """Copy the write-ahead log into the database file every CHECKPOINT_SECONDS, and once
        more at the end. PASSIVE: it never waits for, nor blocks, the writer."""
        while True:
            stopping = self._stopping.wait(CHECKPOINT_SECONDS)
            try:
                connection = self.database.engine.raw_connection()
                try:  # on the driver's connection: no transaction, so no write lock taken
                    cast(Any, connection.driver_connection).execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    )
                finally:
                    connection.close()
            except Exception:  # the next one will try again; the log itself is unharmed
                logger.exception("the prediction log's write-ahead log could not be checkpointed")
            if stopping:
                return

    def _disconnect(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # a broken connection is dropped either way
                self._connection.close()
            self._connection = None
