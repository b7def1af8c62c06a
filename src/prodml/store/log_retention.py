"""Keeping the prediction log bounded: what it holds and costs, and pruning the oldest.

:func:`prune` deletes the predictions older than a moment, or all but the newest N, in
short transactions of ``CHUNK`` ids, oldest first, so that a server logging meanwhile
waits for one chunk at most, and stops at the first chunk with nothing old in it (the
log's times grow with its ids: a pass on a pruned log reads one chunk); then the feedback
of predictions that are gone. SQLite reuses the freed
pages for the next predictions (the file does not shrink, it stops growing);
PostgreSQL's autovacuum does the same for its table.

>>> import tempfile, pathlib
>>> from prodml.store.database import Database
>>> database = Database(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'p.db'}")
>>> prune(database, keep_rows=10)
Pruned(predictions=0, feedback=0, kept=0)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, select

from prodml.store.database import Database
from prodml.store.log_format import microseconds, moment
from prodml.store.tables import FeedbackRow, LogStreamRow, PredictionRow

#: Prediction ids deleted in one transaction.
CHUNK = 20_000


@dataclass(frozen=True)
class Pruned:
    """What a prune deleted, and how many predictions are left."""

    predictions: int
    feedback: int
    kept: int


@dataclass(frozen=True)
class LogStats:
    """The prediction log's size: rows, streams, and (SQLite) the bytes on disk."""

    predictions: int
    feedback: int
    streams: int
    first_at: datetime | None
    last_at: datetime | None
    database_bytes: int | None  # the SQLite file and its write-ahead log; None: PostgreSQL

    @property
    def bytes_per_prediction(self) -> float | None:
        """The database's size over the predictions it holds (everything else in it
        included: runs, windows; on a store that mostly logs, the log's cost)."""
        if self.database_bytes is None or not self.predictions:
            return None
        return self.database_bytes / self.predictions


def stats(database: Database) -> LogStats:
    """What the prediction log of ``database`` holds."""
    with database.session() as session:
        count, first, last = session.execute(
            select(func.count(), func.min(PredictionRow.at_us), func.max(PredictionRow.at_us))
        ).one()
        feedback = session.scalar(select(func.count()).select_from(FeedbackRow)) or 0
        streams = session.scalar(select(func.count()).select_from(LogStreamRow)) or 0
    size = None
    if database.file is not None:
        size = sum(
            os.path.getsize(path)
            for path in (database.file, f"{database.file}-wal")
            if os.path.exists(path)
        )
    return LogStats(
        int(count),
        int(feedback),
        int(streams),
        None if first is None else moment(first),
        None if last is None else moment(last),
        size,
    )


def prune(
    database: Database, *, older_than: datetime | None = None, keep_rows: int | None = None
) -> Pruned:
    """Delete the predictions logged before ``older_than`` and those beyond the newest
    ``keep_rows``, with their feedback; see the module docstring."""
    p = PredictionRow
    with database.session() as session:
        first, last, count = session.execute(
            select(func.min(p.id), func.max(p.id), func.count())
        ).one()
        cut = 0  # ids up to this one go, whatever their age
        if keep_rows is not None and count > keep_rows:
            cut = (
                session.scalar(select(p.id).order_by(p.id).offset(count - keep_rows - 1).limit(1))
                or 0
            )
    if first is None or (cut == 0 and older_than is None):
        return Pruned(0, 0, int(count))
    before = None if older_than is None else microseconds(older_than)
    doomed = p.id <= cut if before is None else (p.id <= cut) | (p.at_us < before)
    deleted = 0
    for low in range(first - 1, last, CHUNK):
        with database.queued("log"), database.engine.begin() as conn:
            ids = (p.id > low, p.id <= low + CHUNK)
            if low >= cut and before is not None:
                # times grow with ids: past the first chunk with nothing old, all is new
                oldest = conn.scalar(select(func.min(p.at_us)).where(*ids))
                if oldest is not None and oldest >= before:
                    break
            deleted += conn.execute(delete(p).where(*ids, doomed)).rowcount
    with database.engine.begin() as conn:
        orphans = conn.execute(
            delete(FeedbackRow).where(
                ~exists().where(PredictionRow.request_id == FeedbackRow.request_id)
            )
        ).rowcount
    return Pruned(deleted, orphans, int(count) - deleted)
