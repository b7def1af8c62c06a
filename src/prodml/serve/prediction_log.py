"""The prediction log: every answered prediction, committed before its answer is sent.

A :class:`PredictionLog` owns one writer thread. The server hands it a batch once the
batch is predicted and holds the batch's answers until :meth:`PredictionLog.write`'s
future says the rows are committed; if the commit fails, the answers become 503s. So an
acknowledged prediction is in the table ``predictions`` even when the server is killed
with ``kill -9`` right after answering (SQLite in WAL mode, or PostgreSQL, keeps a
committed transaction when the process dies). ``durability="power"`` also survives a
power cut: every group commit is synced to the disk (SQLite ``synchronous=FULL``;
PostgreSQL's default ``synchronous_commit``), where ``"process"``, the default, leaves
that to the operating system (``synchronous=NORMAL``; ``synchronous_commit=off``).

Rows are stored in the compact format of :mod:`prodml.store.log_format`: what a stream of
predictions shares once, each prediction's values in binary.

The thread commits whatever batches are waiting in one transaction (a group commit):
under load, one commit covers many batches, and the event loop never waits on the disk.
On SQLite, the writers of several server processes take turns through a lock file
(:meth:`Database.queued`), not SQLite's sleeping busy handler, and the commits never
checkpoint the write-ahead log themselves (a checkpoint syncs the database file, which
stalls a commit for 100 ms or more on a slow disk). A second thread checkpoints it every
``CHECKPOINT_SECONDS`` without blocking the writer (``PASSIVE``); that alone starves
under steady commits (each commit appends before the checkpoint reaches the end), so when
the write-ahead log passes ``WAL_LIMIT`` bytes the thread takes the writers' lock and
runs a ``TRUNCATE`` checkpoint, which empties the file: its size stays bounded. The passive
checkpoint just before it has copied and synced all but the last few commits, so the
writers wait only for those (a TRUNCATE of the whole file held them up to 50 ms).

>>> import tempfile, pathlib
>>> from prodml.store.database import Database
>>> log = PredictionLog(Database(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'p.db'}"))
>>> row = entry("r-1", "loans", "loans", 3, {"income": 41000.0}, {"label": 1}, 0.002)
>>> log.write([row]).result()
>>> log.close()
>>> log.count()
1
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import Connection, Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from prodml.serve.validation import FloatRows
from prodml.store import many_rows
from prodml.store.database import Database
from prodml.store.log_format import (
    FORMAT_VERSION,
    Stream,
    encode_inputs,
    encode_matrix,
    encode_outputs,
    microseconds,
)
from prodml.store.review import insert_items
from prodml.store.tables import LogStreamRow, PredictionRow, RequestErrorRow

if TYPE_CHECKING:
    from prodml.serve.source import Served

logger = logging.getLogger("prodml.serve")

#: A prediction to log: its stream, request id, arrival time (microseconds), inputs and
#: outputs (encoded), latency (microseconds), and the event's time (microseconds; None:
#: the request carried none); see :func:`entry`.
Entry = tuple[Stream, str, int, bytes, bytes, int, int | None]
#: An entry as inserted: its stream's id, its blobs as bytearray (see _sqlite_insert)
_Resolved = tuple[int, str, int, bytearray, bytearray, int, int | None]
Rows = Sequence[Any] | Callable[[], Sequence[Any]]
Durability = Literal["process", "power"]

_TABLE = cast(Table, PredictionRow.__table__)
_STREAMS = cast(Table, LogStreamRow.__table__)
#: The insert of predictions: the driver's own, with none of SQLAlchemy's per-row work (a
#: third of the log thread's time at 100 rows a request); ``{rows}``, the VALUES' rows
_INSERT = (
    "INSERT INTO predictions (stream_id, request_id, at_us, inputs, outputs, latency_us, "
    "event_us) VALUES {rows}"
)
#: The same of rows without an event time, on SQLite: the column left NULL by the statement
#: rather than bound (see :func:`_sqlite_insert`)
_INSERT_UNTIMED = (
    "INSERT INTO predictions (stream_id, request_id, at_us, inputs, outputs, latency_us) "
    "VALUES {rows}"
)
_POSTGRES_ROW = "(%s, %s, %s, %s, %s, %s, %s)"
_ERRORS = insert(cast(Table, RequestErrorRow.__table__))
_REVIEWS = object()  # review items, inserted by insert_items
_STOP = object()
#: How often the write-ahead log of an SQLite store is checkpointed, off the commit path.
CHECKPOINT_SECONDS = 1.0
#: The size of the write-ahead log past which the checkpoint empties it (TRUNCATE).
WAL_LIMIT = 16 << 20


def entry(
    request_id: str,
    endpoint: str,
    model_name: str,
    model_version: int,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    latency_seconds: float,
    role: str = "primary",
    created_at: datetime | None = None,
    run_id: str | None = None,
    classes: Sequence[Any] | None = None,
    event_at: datetime | None = None,
) -> Entry:
    """One prediction, as :meth:`PredictionLog.write` takes it: ``created_at`` is when it
    arrived (default: now), ``event_at`` the time of the event it is about, if known.
    ``classes`` (the model's, in the order of its probabilities) lets the probabilities be
    stored as numbers alone. The confidence is not stored: it is the highest probability."""
    kinds = None if classes is None else tuple(classes)
    stream = _stream(endpoint, model_name, model_version, run_id, role, tuple(inputs), kinds)
    return (
        stream,
        request_id,
        microseconds(created_at or datetime.now(UTC)),
        encode_inputs(list(inputs.values())),
        encode_outputs(outputs, stream),
        round(latency_seconds * 1e6),
        None if event_at is None else microseconds(event_at),
    )


def encoded_inputs(rows: Sequence[Sequence[Any]]) -> list[bytes]:
    """The inputs of each of ``rows`` as :func:`entry` stores them: of
    :class:`~prodml.serve.validation.FloatRows`, cut from their matrix in one pass.

    >>> import numpy as np
    >>> rows = [(0.5, 2.0), (1.0, -3.0)]
    >>> encoded_inputs(FloatRows(rows, np.array(rows))) == encoded_inputs(rows)
    True
    """
    if type(rows) is FloatRows:
        return encode_matrix(rows.matrix)
    return [encode_inputs(row) for row in rows]


#: One object per stream, so that the log thread tells a batch's stream by identity.
_stream = functools.lru_cache(maxsize=1024)(Stream)


def log_stream(
    served: Served,
    role: str,
    columns: Sequence[str],
    classes: Sequence[Any] | None,
    decided_by: str | None = None,
) -> Stream:
    """The stream of the predictions ``served`` answers in ``role``, decided by
    ``decided_by`` (None or ``model``: the model)."""
    kinds = None if classes is None else tuple(classes)
    decider = None if decided_by == "model" else decided_by
    return _stream(
        served.endpoint,
        served.name,
        served.version,
        served.run_id,
        role,
        tuple(columns),
        kinds,
        decider,
    )


class PredictionLog:
    """Writes batches of prediction rows on a thread of its own; see the module docstring."""

    def __init__(self, database: Database, durability: Durability = "process") -> None:
        self.database = database
        self.durability = durability
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # One connection for the thread's life, not a checkout from the pool (and a
        # rollback on its return) for every commit; dropped after a failure, opened anew.
        self._connection: Connection | None = None
        self._streams: dict[Stream, int] = {}  # ids of the streams committed so far
        self._turns = database.turns("log")  # the writers' lock, the thread's own
        self._thread = threading.Thread(target=self._run, name="prodml-prediction-log")
        self._thread.start()
        self._closed = False
        self._stopping = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if database.file is not None:
            self._checkpointer = threading.Thread(
                target=self._checkpoint, args=(database.file,), name="prodml-log-checkpoint"
            )
            self._checkpointer.daemon = True
            self._checkpointer.start()

    def write(self, rows: Rows, reviews: Rows | None = None) -> Future[None]:
        """Insert ``rows`` (see :func:`entry`), and the review items ``reviews`` (see
        :func:`~prodml.store.review.item_rows`), in one transaction: an acknowledged
        deferred answer always has its item. The future is done once they are committed,
        or holds the error that stopped them. Either may be a function that makes them,
        called on the log's thread, off the event loop."""
        return self._put((_INSERT, rows), *(() if reviews is None else ((_REVIEWS, reviews),)))

    def write_error(
        self,
        endpoint: str,
        protocol: str,
        status: int,
        latency_seconds: float,
        version: int | None = None,
    ) -> Future[None]:
        """Count a request answered with an error (the monitor's error rate; a canary's,
        by the ``version`` it was routed to), in the next group commit; nobody waits."""
        row = {
            "created_at": datetime.now(UTC),
            "endpoint": endpoint,
            "protocol": protocol,
            "status": status,
            "latency_seconds": latency_seconds,
            "model_version": version,
        }
        return self._put((_ERRORS, [row]))

    def _put(self, *parts: tuple[Any, Rows]) -> Future[None]:
        """Queue ``parts`` (statement, rows) for the next group commit."""
        done: Future[None] = Future()
        if self._closed:
            done.set_exception(RuntimeError("the prediction log is closed"))
            return done
        self._queue.put((parts, done))
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
        self._turns.close()

    def _commit(self, group: list[tuple[tuple[tuple[Any, Rows], ...], Future[None]]]) -> None:
        rows: dict[Any, list[Any]] = {}
        new: dict[Stream, int] = {}
        try:
            for parts, _ in group:
                for statement, batch in parts:
                    rows.setdefault(statement, []).extend(batch() if callable(batch) else batch)
            connection = self._connect()
            with self._turns(), connection.begin():
                for statement, values in rows.items():
                    if not values:
                        continue
                    if statement is _INSERT:
                        resolved = self._resolve(connection, values, new)
                        driver = cast(Any, connection.connection.driver_connection)
                        if self.database.is_sqlite:
                            _sqlite_insert(driver, resolved)
                        else:
                            with driver.cursor() as cursor:
                                cursor.executemany(_INSERT.format(rows=_POSTGRES_ROW), resolved)
                    elif statement is _REVIEWS:
                        insert_items(connection, values)
                    else:
                        connection.execute(statement, values)
        except Exception as exc:  # the answers become 503s; the cause goes to the log
            count = sum(len(values) for values in rows.values())
            logger.exception("the prediction log could not commit %d rows", count)
            self._disconnect()
            for _, done in group:
                done.set_exception(exc)
            return
        self._streams.update(new)
        for _, done in group:
            done.set_result(None)

    def _resolve(
        self, connection: Connection, values: list[Entry], new: dict[Stream, int]
    ) -> list[_Resolved]:
        """The rows with their stream's id in place of the stream, streams not seen before
        stored (in the same transaction; ``new`` collects them until it commits), their
        inputs and outputs as bytearray (see :func:`_sqlite_insert`; PostgreSQL's driver
        takes either)."""
        resolved = []
        last: Stream | None = None
        found = 0
        for stream, request_id, at, inputs, outputs, latency, event in values:
            if stream is not last:  # the rows of a batch share one stream object
                known = self._streams.get(stream) or new.get(stream)
                if known is None:
                    known = new[stream] = _stream_id(connection, stream)
                last, found = stream, known
            row = (found, request_id, at, bytearray(inputs), bytearray(outputs), latency, event)
            resolved.append(row)
        return resolved

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = connection = self.database.engine.connect()
            driver = cast(Any, connection.connection.driver_connection)
            if self.database.is_sqlite:  # see _checkpoint; outside any transaction
                driver.execute("PRAGMA wal_autocheckpoint=0")
                synchronous = "FULL" if self.durability == "power" else "NORMAL"
                driver.execute(f"PRAGMA synchronous={synchronous}")
            elif self.durability == "process":
                # a commit returns before PostgreSQL syncs it; a crash of this process
                # loses nothing (the server has it), a crash of the server's machine may
                with driver.cursor() as cursor:
                    cursor.execute("SET synchronous_commit = off")
                driver.commit()
        return self._connection

    def _checkpoint(self, file: str) -> None:
        """Copy the write-ahead log into the database file every CHECKPOINT_SECONDS, and
        empty it when it passes WAL_LIMIT, and once more at the end; see the module
        docstring. Its own connection, with a short busy timeout: a checkpoint that must
        wait for a reader gives up and comes back a second later."""
        wal = Path(f"{file}-wal")
        connection = sqlite3.connect(file, timeout=0.5, isolation_level=None)
        try:
            while True:
                stopping = self._stopping.wait(CHECKPOINT_SECONDS)
                try:
                    # copy what is committed, while the writers go on (syncs the file)
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    if stopping or (wal.exists() and wal.stat().st_size > WAL_LIMIT):
                        # then stop them only for what came since, and empty the file
                        with self.database.queued("log"):
                            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                except Exception:  # the next one will try again; the log itself is unharmed
                    logger.exception("the prediction log's write-ahead log was not checkpointed")
                if stopping:
                    return
        finally:
            connection.close()

    def _disconnect(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # a broken connection is dropped either way
                self._connection.close()
            self._connection = None


def _sqlite_insert(driver: sqlite3.Connection, rows: list[_Resolved]) -> None:
    """Insert ``rows`` in their order. Python's sqlite3 binds an int, a float, a str or a
    bytearray as it is, but looks for an adapter for anything else, bytes and None
    included: two attribute lookups that fail with a formatted error, about 2,500
    instructions a value, three values a row. So the blobs come as bytearray, and a run of
    rows without an event time is inserted without that column."""
    for untimed, run in itertools.groupby(rows, lambda row: row[6] is None):
        if untimed:
            many_rows.insert(driver, _INSERT_UNTIMED, [row[:6] for row in run])
        else:
            many_rows.insert(driver, _INSERT, list(run))


def _stream_id(connection: Connection, stream: Stream) -> int:
    """The id of ``stream`` in ``log_streams``, stored if it is not there yet (by this or
    another process: the insert skips a key that exists)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    values = {
        "key": stream.key,
        "endpoint": stream.endpoint,
        "model_name": stream.model_name,
        "model_version": stream.model_version,
        "run_id": stream.run_id,
        "role": stream.role,
        "columns": list(stream.columns),
        "classes": None if stream.classes is None else list(stream.classes),
        "decided_by": stream.decided_by,
        "format_version": FORMAT_VERSION,
    }
    connection.execute(
        dialect.insert(_STREAMS).values(values).on_conflict_do_nothing(index_elements=["key"])
    )
    return int(
        connection.execute(select(_STREAMS.c.id).where(_STREAMS.c.key == stream.key)).scalar_one()
    )
