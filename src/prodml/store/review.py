"""The review queue: predictions a person decides.

An item is one logged prediction (by request id) that the model did not decide alone:
deferred below the confidence threshold (``low_confidence``), sampled from the model's own
decisions to measure them without bias (``audit_sample``), or answered by the fallback
rule (``fallback``). It keeps what a reviewer needs (the inputs, the model's suggestion
when the level shows one), a priority (higher first) and how many answers it asks for.
An item the server queues keeps no copy of its inputs: they are the prediction log's
row of the request, committed in the same transaction, and read from it (with any
``data.metadata`` fields the request carried).

Reviewers take items with :meth:`ReviewQueue.next`, which leases the best open item to
one of them for a while: two reviewers never hold the same item at once. On PostgreSQL
the item is chosen ``FOR UPDATE SKIP LOCKED`` (a second reviewer skips the row the first
is leasing, instead of waiting for it); on SQLite the choice and the lease are one
``BEGIN IMMEDIATE`` transaction, so leases are taken one after another. A lease that runs
out returns the item to the queue. :meth:`ReviewQueue.answer` stores an answer of the
reviewer holding the lease; once the item has the answers it asks for, the most common
label (the first given, on a tie) becomes the request's feedback, so realized performance,
concept drift and the threshold curve use it like any other label.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

import numpy as np
from sqlalchemy import Connection, or_, select
from sqlalchemy.orm import Session

from prodml.errors import ConfigError, NotFoundError, ReviewError, listing
from prodml.store import many_rows
from prodml.store.database import Database
from prodml.store.log_format import decode_inputs
from prodml.store.monitoring import Monitoring
from prodml.store.runs import utc_now
from prodml.store.tables import LogStreamRow, PredictionRow, ReviewAnswerRow, ReviewItemRow

Reason = Literal["low_confidence", "audit_sample", "fallback"]
REASONS: tuple[Reason, ...] = ("low_confidence", "audit_sample", "fallback")
#: How long a reviewer holds an item before it returns to the queue.
LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class NewItem:
    """A prediction to put before a person."""

    request_id: str
    endpoint: str
    inputs: dict[str, Any] | None  # None: those the prediction log holds for request_id
    reason: Reason
    suggestion: dict[str, Any] | None = None  # {"label", "confidence"}; None: not shown
    model_version: int | None = None
    priority: float = 0.0
    answers_needed: int = 1


@dataclass(frozen=True)
class ReviewItem:
    """An item as the queue holds it."""

    id: int
    request_id: str
    endpoint: str
    model_version: int | None
    inputs: dict[str, Any]
    suggestion: dict[str, Any] | None
    reason: str
    priority: float
    answers_needed: int
    answers_given: int
    created_at: datetime
    leased_by: str | None
    lease_until: datetime | None
    done_at: datetime | None

    def age_seconds(self, now: datetime) -> float:
        return (now - self.created_at).total_seconds()


class ReviewQueue:
    """The review queue of a store."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, items: Sequence[NewItem]) -> int:
        """Queue ``items``; a request id already queued is left as it is. How many were
        added."""
        rows = item_rows(items, utc_now())
        ids = [row[0] for row in rows]
        with self.database.engine.begin() as connection:
            known = set(
                connection.scalars(
                    select(ReviewItemRow.request_id).where(ReviewItemRow.request_id.in_(ids))
                ).all()
            )
            fresh = {row[0]: row for row in rows if row[0] not in known}
            insert_items(connection, list(fresh.values()))
        return len(fresh)

    def next(
        self,
        reviewer: str,
        endpoint: str | None = None,
        lease: timedelta = LEASE,
        now: datetime | None = None,
    ) -> ReviewItem | None:
        """Lease the open item of highest priority (the oldest first among equals) that
        ``reviewer`` has not answered and nobody else holds; None when there is none."""
        now = now or utc_now()
        answered = select(ReviewAnswerRow.item_id).where(ReviewAnswerRow.reviewer == reviewer)
        r = ReviewItemRow
        query = (
            select(r)
            .where(
                r.done_at.is_(None),
                or_(r.lease_until.is_(None), r.lease_until < now, r.leased_by == reviewer),
                r.id.not_in(answered),
            )
            .order_by(r.priority.desc(), r.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if endpoint is not None:
            query = query.where(r.endpoint == endpoint)
        with self.database.session() as session:
            row = session.scalars(query).first()
            if row is None:
                return None
            row.leased_by, row.lease_until = reviewer, now + lease
            session.flush()
            return _items(session, [row])[0]

    def answer(
        self,
        request_id: str,
        reviewer: str,
        label: Any,
        note: str | None = None,
        now: datetime | None = None,
        *,
        leased: bool = True,
    ) -> ReviewItem:
        """Store ``reviewer``'s ``label`` for the item of ``request_id``, which they must
        hold (unless not ``leased``: answers labelled elsewhere, such as Label Studio's).
        For a classifier the label must be one of the classes of the model that logged
        the prediction, and is stored as that class (the text "1" as the class 1). Once
        the item has its answers, the most common label is the request's feedback."""
        now = now or utc_now()
        item = self.get(request_id)
        if item is None:
            raise NotFoundError(f"no review item for request {request_id}; see prodml review list")
        classes = self.classes(item)
        with self.database.session() as session:
            row = session.get(ReviewItemRow, item.id, with_for_update=True)
            assert row is not None  # items are never deleted
            if leased:
                _held(row, reviewer, now)
            elif row.done_at is not None:
                raise ReviewError(f"request {row.request_id} was already answered")
            if classes is not None:
                label = _class(label, classes)
            mine = select(ReviewAnswerRow.id).where(
                ReviewAnswerRow.item_id == row.id, ReviewAnswerRow.reviewer == reviewer
            )
            if session.scalars(mine).first() is not None:
                raise ReviewError(
                    f"{reviewer} already answered request {row.request_id}; an item takes "
                    "one answer a reviewer"
                )
            session.add(
                ReviewAnswerRow(
                    item_id=row.id,
                    reviewer=reviewer,
                    label={"value": label},
                    note=note,
                    answered_at=now,
                )
            )
            row.answers_given += 1
            row.leased_by = row.lease_until = None
            final = None
            if row.answers_given >= row.answers_needed:
                row.done_at = now
                given = session.scalars(
                    select(ReviewAnswerRow.label)
                    .where(ReviewAnswerRow.item_id == row.id)
                    .order_by(ReviewAnswerRow.id)
                ).all()
                final = _majority([g["value"] for g in given])
            session.flush()
            item = _items(session, [row])[0]
        if final is not None:
            Monitoring(self.database).add_feedback([(request_id, final)], f"review:{reviewer}")
        return item

    def get(self, request_id: str) -> ReviewItem | None:
        """The item of ``request_id``, if one was queued."""
        query = select(ReviewItemRow).where(ReviewItemRow.request_id == request_id)
        with self.database.reading() as session:
            row = session.scalars(query).first()
            return None if row is None else _items(session, [row])[0]

    def classes(self, item: ReviewItem) -> tuple[Any, ...] | None:
        """The classes an answer to ``item`` may give: those of the model version that
        logged its prediction; None for a regressor, or when nothing of it was logged."""
        for stream in Monitoring(self.database).streams(item.endpoint).values():
            if stream.model_version == item.model_version and stream.classes is not None:
                return stream.classes
        return None

    def items(
        self, endpoint: str | None = None, *, open_only: bool = True, limit: int = 100
    ) -> list[ReviewItem]:
        """Items by priority (then age), the open ones only unless ``open_only`` is False."""
        r = ReviewItemRow
        query = select(r).order_by(r.priority.desc(), r.id).limit(limit)
        if open_only:
            query = query.where(r.done_at.is_(None))
        if endpoint is not None:
            query = query.where(r.endpoint == endpoint)
        with self.database.reading() as session:
            return _items(session, session.scalars(query).all())

    def answers(self, request_id: str) -> list[dict[str, Any]]:
        """The answers given to the item of ``request_id``, oldest first."""
        a, r = ReviewAnswerRow, ReviewItemRow
        query = (
            select(a.reviewer, a.label, a.note, a.answered_at)
            .join(r, r.id == a.item_id)
            .where(r.request_id == request_id)
            .order_by(a.id)
        )
        with self.database.reading() as session:
            return [
                {"reviewer": who, "label": label["value"], "note": note, "answered_at": at}
                for who, label, note, at in session.execute(query).all()
            ]

    def backlog(self, endpoint: str, now: datetime | None = None) -> tuple[int, float | None]:
        """How many items of ``endpoint`` are open, and the 95th percentile of their age
        in seconds (None when there is none)."""
        now = now or utc_now()
        r = ReviewItemRow
        query = select(r.created_at).where(r.endpoint == endpoint, r.done_at.is_(None))
        with self.database.reading() as session:
            created = session.scalars(query).all()
        if not created:
            return 0, None
        ages = [(now - _aware(at)).total_seconds() for at in created]
        return len(created), float(np.percentile(ages, 95))


#: The columns :func:`item_rows` fills, in the order of its tuples.
_COLUMNS = (
    "request_id",
    "endpoint",
    "model_version",
    "inputs",
    "suggestion",
    "reason",
    "priority",
    "answers_needed",
    "answers_given",
    "created_at",
)
#: The insert of items: the driver's own (a server inserts them inside the log's write
#: lock, where SQLAlchemy's statement building and per-row processing took half of the
#: time of a one-item transaction); ``{rows}``, the VALUES' rows
_INSERT = (
    f"INSERT INTO review_items ({', '.join(_COLUMNS)}) VALUES {{rows}} "
    "ON CONFLICT (request_id) DO NOTHING"
)
ItemRow = tuple[str, str, int | None, str | None, str | None, str, float, int, int, datetime]


def item_rows(items: Sequence[NewItem], now: datetime) -> list[ItemRow]:
    """The rows of ``items``, queued at ``now``, as :func:`insert_items` takes them: JSON
    fields encoded (None stays SQL NULL), so the insert does no work per row."""
    for item in items:
        _check(item)
    return [
        (
            item.request_id,
            item.endpoint,
            item.model_version,
            _json(item.inputs),
            _json(item.suggestion),
            item.reason,
            item.priority,
            item.answers_needed,
            0,
            now,
        )
        for item in items
    ]


def insert_items(connection: Connection, rows: Sequence[ItemRow]) -> None:
    """Insert :func:`item_rows` in ``connection``'s transaction, on SQLite through the
    driver (:mod:`~prodml.store.many_rows`: a server adds items at its request rate); a
    request id already queued is skipped."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        row = ", ".join("CAST(%s AS JSON)" if c in _JSON else "%s" for c in _COLUMNS)
        connection.exec_driver_sql(_INSERT.format(rows=f"({row})"), list(rows))
        return
    driver = cast(sqlite3.Connection, connection.connection.driver_connection)
    # SQLAlchemy's DateTime keeps an SQLite time as text, in UTC without an offset; the
    # rows of one item_rows share their time
    times = {moment: _sqlite_time(moment) for moment in {row[-1] for row in rows}}
    many_rows.insert(driver, _INSERT, [(*row[:-1], times[row[-1]]) for row in rows])


_JSON = ("inputs", "suggestion")


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def _sqlite_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _check(item: NewItem) -> None:
    if item.reason not in REASONS:
        raise ConfigError(f"review reason {item.reason!r} is not one of {listing(REASONS)}")
    if isinstance(item.answers_needed, bool) or item.answers_needed < 1:
        raise ConfigError(
            f"answers_needed is {item.answers_needed!r}; an item asks for 1 or more answers"
        )


def _held(row: ReviewItemRow, reviewer: str, now: datetime) -> None:
    """Refuse an answer to an item that is done, or that ``reviewer`` does not hold."""
    if row.done_at is not None:
        raise ReviewError(
            f"request {row.request_id} was already answered ({row.answers_given} of "
            f"{row.answers_needed}); take another with prodml review next"
        )
    until = None if row.lease_until is None else _aware(row.lease_until)
    if row.leased_by != reviewer or until is None:
        holder = f"is leased to {row.leased_by}" if row.leased_by else "is not leased to anyone"
        raise ReviewError(
            f"request {row.request_id} {holder}, not to {reviewer}; take it with prodml review next"
        )
    if until < now:
        raise ReviewError(
            f"{reviewer}'s lease of request {row.request_id} ended at {until:%H:%M:%S} UTC; "
            "take it again with prodml review next"
        )


def _class(label: Any, classes: Sequence[Any]) -> Any:
    """The class ``label`` names (by its text); an error naming the classes if none."""
    for known in classes:
        if str(known) == str(label):
            return known
    raise ConfigError(
        f"label {label!r} is not a class of this model; give one of {listing(classes)}"
    )


def _majority(labels: list[Any]) -> Any:
    """The most common label; the first given among equals."""
    counts = Counter(str(label) for label in labels)
    best = max(counts.values())
    return next(label for label in labels if counts[str(label)] == best)


def _aware(at: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; they were written in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _items(session: Session, rows: Sequence[ReviewItemRow]) -> list[ReviewItem]:
    """The items of ``rows``; the inputs of those the server queued are read from the
    prediction log (the row the request was answered with, not a shadow's copy)."""
    missing = [row.request_id for row in rows if row.inputs is None]
    logged: dict[str, dict[str, Any]] = {}
    if missing:
        p, s = PredictionRow, LogStreamRow
        query = (
            select(p.request_id, p.inputs, s.columns)
            .join(s, s.id == p.stream_id)
            .where(p.request_id.in_(missing), s.role != "shadow")
        )
        for request_id, blob, columns in session.execute(query).all():
            logged[request_id] = decode_inputs(blob, columns)
    return [_item(row, logged.get(row.request_id, {})) for row in rows]


def _item(row: ReviewItemRow, logged: dict[str, Any]) -> ReviewItem:
    return ReviewItem(
        id=row.id,
        request_id=row.request_id,
        endpoint=row.endpoint,
        model_version=row.model_version,
        inputs=logged if row.inputs is None else dict(row.inputs),
        suggestion=None if row.suggestion is None else dict(row.suggestion),
        reason=row.reason,
        priority=row.priority,
        answers_needed=row.answers_needed,
        answers_given=row.answers_given,
        created_at=_aware(row.created_at),
        leased_by=row.leased_by,
        lease_until=None if row.lease_until is None else _aware(row.lease_until),
        done_at=None if row.done_at is None else _aware(row.done_at),
    )
