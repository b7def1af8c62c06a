"""A project's store as the prediction-log benchmark sees it: from outside, with the
standard library's sqlite3 (or SQLAlchemy, for PostgreSQL), so that it reads the store of
either side's code the same way (both keep the table ``predictions`` with a
``request_id`` per row).

The sizes are those of the files: :func:`checkpointed_size` first copies the write-ahead
log into the database file and empties it, so the file alone holds everything.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import create_engine, text

#: seconds between two looks at the write-ahead log's size
WAL_EVERY = 0.5


def database(folder: Path) -> Path:
    """The project's store (``prodml.yaml`` names no other)."""
    return folder / ".prodml" / "prodml.db"


def checkpointed_size(folder: Path) -> int:
    """Bytes of the database file once ``PRAGMA wal_checkpoint(TRUNCATE)`` has copied the
    write-ahead log into it; call it with no server running (a reader would keep the
    checkpoint from finishing, and then this raises)."""
    with contextlib.closing(sqlite3.connect(database(folder))) as db:
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise RuntimeError(f"{database(folder)}: the checkpoint could not finish (busy)")
    return database(folder).stat().st_size


def schema(folder: Path) -> str:
    """The store's migration (``alembic_version``): which code made it."""
    with contextlib.closing(sqlite3.connect(database(folder))) as db:
        version: str = db.execute("select version_num from alembic_version").fetchone()[0]
        return version


def request_ids(folder: Path, limit: int) -> list[str]:
    """The request ids of the ``limit`` oldest predictions of the log."""
    with contextlib.closing(sqlite3.connect(database(folder))) as db:
        query = "select request_id from predictions order by id limit ?"
        return [request_id for (request_id,) in db.execute(query, (limit,))]


class WalPeak:
    """The largest size the store's write-ahead log reached while the ``with`` block ran
    (``peak``, bytes), looked at every WAL_EVERY seconds on a thread of its own (the load
    runs meanwhile); a missing file counts as empty.

    >>> import tempfile
    >>> with WalPeak(Path(tempfile.mkdtemp())) as wal:
    ...     pass
    >>> wal.peak
    0
    """

    def __init__(self, folder: Path) -> None:
        self.wal = database(folder).with_name("prodml.db-wal")
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> WalPeak:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while True:
            with contextlib.suppress(FileNotFoundError):  # SQLite removes an empty log
                self.peak = max(self.peak, self.wal.stat().st_size)
            if self._stop.wait(WAL_EVERY):
                return


def postgres_size(url: str) -> int:
    """Bytes of the database's files (tables, indexes, TOAST; the server's own write-ahead
    log, shared by every database, is not counted). A table's file grows as rows are
    written, so no checkpoint is needed first."""
    return int(_postgres_value(url, "select pg_database_size(current_database())"))


def postgres_rows(url: str) -> int:
    """Rows of the database's prediction log."""
    return int(_postgres_value(url, "select count(*) from predictions"))


def postgres_schema(url: str) -> str:
    """The database's migration (``alembic_version``)."""
    return str(_postgres_value(url, "select version_num from alembic_version"))


def _postgres_value(url: str, query: str) -> Any:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).scalar_one()
    finally:
        engine.dispose()
