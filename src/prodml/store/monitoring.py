"""What monitoring keeps: feedback labels, windows with their metrics, drift scores as a
time series, alerts, and the change points the streaming detectors found.

The monitor (:mod:`prodml.monitor`) writes these; the server reads the newest scores and
the alerts that are firing for ``/metrics``; the report and ``prodml alerts`` read them all.

>>> import tempfile, pathlib
>>> store = Monitoring(Database(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'm.db'}"))
>>> store.windows("loans")
[]
"""

from __future__ import annotations

import builtins
import gc
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from orjson import dumps
from sqlalchemy import Connection, DateTime, func, insert, select, update
from sqlalchemy.orm import Session

from prodml.errors import NotFoundError
from prodml.store.database import Database
from prodml.store.label_columns import LabelColumns, LabelledLog, label_values
from prodml.store.log_columns import LogColumns, LogRow, Model, answers
from prodml.store.log_format import (
    Stream,
    confidence,
    decode_inputs,
    decode_outputs,
    microseconds,
    moment,
)
from prodml.store.runs import as_utc, jsonable, utc_now
from prodml.store.tables import (
    AlertRow,
    ChangePointRow,
    DriftScoreRow,
    FeedbackRow,
    LogStreamRow,
    MonitorPositionRow,
    MonitorStreamRow,
    MonitorWindowRow,
    PredictionRow,
    RequestErrorRow,
)

T = TypeVar("T")
#: The log's rows as the monitor reads them ("?": parameters; see _fetched): a row's time
#: is its event's, where the request carried one, else its arrival; with _LAST_LABEL,
#: each row's last label and that label's id as well (null for none).
_LOG = (
    "SELECT p.id, p.stream_id, p.request_id, COALESCE(p.event_us, p.at_us), p.inputs, "
    "p.outputs, p.latency_us, p.at_us{} FROM predictions p{} "
    "WHERE p.stream_id IN ({}) AND p.id > ? ORDER BY p.id LIMIT ?"
)
_LAST_LABEL = (
    ", f.label, f.id",
    " LEFT JOIN feedback f ON f.id = "
    "(SELECT max(g.id) FROM feedback g WHERE g.request_id = p.request_id)",
)
#: Labelled predictions with their last label, from the predictions in a range (or, with
#: _NEWER, from the request ids labelled after a mark); times as _LOG's.
_LABELLED = (
    "SELECT p.id, p.stream_id, COALESCE(p.event_us, p.at_us), p.outputs, f.label, f.id FROM {} "
    "JOIN feedback f ON f.id = "
    "(SELECT max(g.id) FROM feedback g WHERE g.request_id = p.request_id) "
    "WHERE p.stream_id IN ({}) AND p.id >= ? AND p.id <= ? AND f.id > ? ORDER BY p.id"
)
_IN_RANGE = "predictions p"
_NEWER = (
    "(SELECT DISTINCT request_id FROM feedback WHERE id BETWEEN ? AND ?) n "
    "JOIN predictions p ON p.request_id = n.request_id"
)
_NO_END = 2**63 - 1
#: Request ids looked up in one query (SQLite allows 32,766 parameters; PostgreSQL 65,535).
_IDS_PER_QUERY = 5_000
#: A label stored when its prediction is in the log (PostgreSQL: typed, since a select
#: list's parameters would be text).
_FEEDBACK = (
    "INSERT INTO feedback (request_id, label, received_at, source) SELECT {} "
    "WHERE EXISTS (SELECT 1 FROM predictions WHERE request_id = {})"
)
_FEEDBACK_SQLITE = _FEEDBACK.format("?, ?, ?, ?", "?")
_FEEDBACK_POSTGRES = _FEEDBACK.format("%s, %s::json, %s::timestamptz, %s", "%s")
#: The PostgreSQL advisory lock that feedback transactions take in turn (see add_feedback).
FEEDBACK_LOCK = 0x70726F646D6C  # "prodml"


@dataclass(frozen=True)
class Logged:
    """One row of the prediction log, as the monitor reads it."""

    id: int
    request_id: str
    created_at: datetime
    model_name: str
    model_version: int
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    confidence: float | None
    latency_seconds: float
    run_id: str | None = None  # the run whose model answered (version 0: served with --run)
    decided_by: str = "model"  # or person, fallback (see prodml.serve.deferral)
    # when it arrived, where ``created_at`` is its event's time (None: it is the arrival)
    arrived_at: datetime | None = None

    @property
    def model(self) -> Model:
        """The model that answered it."""
        return self.model_name, self.model_version, self.run_id


@dataclass(frozen=True)
class SavedStream:
    """What an error stream had read at the end of a pass (see
    :class:`prodml.monitor.feedback.ErrorStream`): the newest feedback row read, each
    detector's state, and the ids and times read, packed."""

    mark: int
    detectors: list[dict[str, Any]]
    ids: bytes
    times: bytes


@dataclass(frozen=True)
class Labelled:
    """A logged prediction that has feedback: what the model answered and the true label
    (the last one received, feedback row ``feedback_id``)."""

    id: int
    created_at: datetime
    model_name: str
    model_version: int
    outputs: dict[str, Any]
    truth: Any
    feedback_id: int
    run_id: str | None = None
    decided_by: str = "model"  # or person, fallback


@dataclass(frozen=True)
class Window:
    """A stored window of one endpoint's predictions and its metrics (flat names): the
    predictions of its model with ids from ``first_id`` to ``last_id`` (another model's
    between them are in windows of their own)."""

    id: int
    endpoint: str
    model_name: str
    model_version: int
    starts_at: datetime
    ends_at: datetime
    first_id: int
    last_id: int
    rows: int
    metrics: dict[str, Any]
    run_id: str | None = None

    @property
    def model(self) -> Model:
        """The model whose predictions it holds."""
        return self.model_name, self.model_version, self.run_id


class Covered(NamedTuple):
    """What the stored windows of one model hold: windows of predictions follow one
    another, so they hold its every prediction up to ``last_id``; windows of time hold
    its every prediction up to ``last_id`` whose time is before ``until_us`` (the end of
    its newest window, microseconds), and such a one that was logged after its window
    closed was counted there as late (see :class:`prodml.monitor.window.Cutter`)."""

    last_id: int
    until_us: int


@dataclass(frozen=True)
class Score:
    """One drift score of one window: ``kind`` is drift (a feature), prediction or skew.
    ``threshold_on`` says what decided: ``score >= threshold``, or ``p_value < threshold``
    (the p-value after the correction for testing many features)."""

    window_id: int
    kind: str
    column: str
    method: str
    score: float
    p_value: float | None
    threshold: float
    threshold_on: str
    drifted: bool


@dataclass(frozen=True)
class Alert:
    """An alert rule that fired on a window; ``resolved_at`` is None while it fires."""

    id: int
    endpoint: str
    rule: str
    metric: str
    value: float | None
    window_id: int
    fired_at: datetime
    resolved_at: datetime | None
    deliveries: dict[str, Any]
    resolved_window_id: int | None = None  # the window that kept to its rule again


@dataclass(frozen=True)
class ChangePoint:
    """Where a detector saw the error rate change: the prediction it began at, and the one
    at which it was found."""

    endpoint: str
    detector: str
    started_id: int
    detected_id: int
    started_at: datetime
    detected_at: datetime


class Monitoring:
    """The monitoring records of one store."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # --- the prediction log and its errors ------------------------------------------------

    def logged(self, endpoint: str, after_id: int = 0, chunk: int = 20_000) -> Iterator[Logged]:
        """The predictions ``endpoint`` answered with an id above ``after_id``, oldest first;
        not a shadow's copies (nobody was answered with them, and read between the
        primary's rows they would cut its windows short at every switch of model)."""
        for rows, streams in self._log_rows(endpoint, after_id, chunk):
            yield from (_logged(row, streams[row[1]]) for row in rows)

    def log_columns(
        self,
        endpoint: str,
        after_id: int = 0,
        chunk: int = 20_000,
        *,
        labels: LabelledLog | None = None,
    ) -> Iterator[LogColumns]:
        """What :meth:`logged` reads, ``chunk`` rows at a time, column by column; with
        ``labels``, each row is read with its last label, and the labelled ones are kept
        there (in one read of the log: a second one, for :meth:`labelled_columns`, cost
        more than the first). Not for an endpoint with a shadow: its labelled predictions
        hold the shadow's, which this leaves out (see :meth:`has_shadow`)."""
        for rows, streams in self._log_rows(endpoint, after_id, chunk, labels is not None):
            columns = [[row[k] for row in rows] for k in range(len(rows[0]))]  # read once
            if labels is not None:
                labels.match(columns)
            yield LogColumns.of_columns(columns, streams)

    def _log_rows(
        self, endpoint: str, after_id: int, chunk: int, labelled: bool = False
    ) -> Iterator[tuple[list[LogRow], dict[int, Stream]]]:
        streams = {k: s for k, s in self.streams(endpoint).items() if s.role != "shadow"}
        if not streams:
            return
        query = _LOG.format(*(_LAST_LABEL if labelled else ("", "")), ", ".join("?" * len(streams)))
        while True:
            with self.database.reading() as session:
                rows = _fetched(session, query, [*streams, after_id, chunk])
            if rows:
                yield rows, streams
            if len(rows) < chunk:
                return
            after_id = rows[-1][0]

    def newest(self, limit: int) -> list[tuple[str, Logged]]:
        """The ``limit`` newest predictions of every endpoint, newest first, with their
        endpoint."""
        streams = self.streams()
        p = PredictionRow
        columns = (
            *(p.id, p.stream_id, p.request_id, p.at_us, p.inputs, p.outputs, p.latency_us),
            p.at_us,  # shown by arrival
        )
        with self.database.session() as session:
            rows = session.execute(select(*columns).order_by(p.id.desc()).limit(limit)).all()
        return [(streams[row[1]].endpoint, _logged(row, streams[row[1]])) for row in rows]

    def streams(self, endpoint: str | None = None) -> dict[int, Stream]:
        """The log's streams (of ``endpoint``), by id."""
        with self.database.session() as session:
            query = select(LogStreamRow)
            if endpoint is not None:
                query = query.where(LogStreamRow.endpoint == endpoint)
            return {row.id: _stream(row) for row in session.scalars(query).all()}

    def endpoints(self) -> list[str]:
        """The endpoints that have logged predictions."""
        with self.database.session() as session:
            return list(session.scalars(select(LogStreamRow.endpoint).distinct()).all())

    def errors(self, endpoint: str, start: datetime, end: datetime) -> int:
        """Requests to ``endpoint`` answered with an error in [start, end] (a shadow's
        failed copies, which no client saw, are not among them)."""
        with self.database.session() as session:
            found = session.scalar(
                select(func.count())
                .select_from(RequestErrorRow)
                .where(
                    RequestErrorRow.endpoint == endpoint,
                    RequestErrorRow.protocol != "shadow",
                    RequestErrorRow.created_at >= start,
                    RequestErrorRow.created_at <= end,
                )
            )
            return int(found or 0)

    def server_errors(self, endpoint: str, version: int, since: datetime, until: datetime) -> int:
        """Requests to ``endpoint`` routed to ``version`` and answered with a server error
        (5xx) in [since, until): what a canary's ``error_rate`` guard and a comparison count."""
        e = RequestErrorRow
        query = select(func.count()).where(
            e.endpoint == endpoint,
            e.model_version == version,
            e.status >= 500,
            e.created_at >= since,
            e.created_at < until,
        )
        with self.database.reading() as session:
            return int(session.scalar(query) or 0)

    # --- feedback --------------------------------------------------------------------------

    def labels(self, request_ids: Sequence[str]) -> dict[str, Any]:
        """The newest label of each request id that has one."""
        found: dict[str, Any] = {}
        with self.database.reading() as session:
            for start in range(0, len(request_ids), 5_000):  # bound the IN list
                query = (
                    select(FeedbackRow.request_id, FeedbackRow.label)
                    .where(FeedbackRow.request_id.in_(request_ids[start : start + 5_000]))
                    .order_by(FeedbackRow.id)
                )
                found.update({rid: label["value"] for rid, label in session.execute(query).all()})
        return found

    def add_feedback(
        self, labels: Sequence[tuple[str, Any]], source: str, *, skip_unknown: bool = False
    ) -> tuple[int, list[str]]:
        """Store ``(request id, true label)`` pairs; returns (stored, unknown ids).

        Ids with no logged prediction are refused, all together, with a NotFoundError
        naming them, unless ``skip_unknown``: then the others are stored.
        """
        with self.database.engine.begin() as conn:
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                # Feedback ids must become visible in their order: the monitor reads the
                # labels newer than the last id it read, so an id committed after a higher
                # one would never be read. (SQLite has one writer at a time already.)
                conn.execute(select(func.pg_advisory_xact_lock(FEEDBACK_LOCK)))
            newest = conn.scalar(select(func.max(FeedbackRow.id))) or 0
            # one statement a label checks its prediction and stores it, through the driver's
            # own executemany (the ORM's per-row work took 90% of the time)
            stamp = DateTime(timezone=True).dialect_impl(conn.dialect).bind_processor(conn.dialect)
            received = utc_now() if stamp is None else stamp(utc_now())
            cut = source[:200]
            rows = [
                (request_id, dumps({"value": jsonable(label)}).decode(), received, cut, request_id)
                for request_id, label in labels
            ]
            if rows:
                conn.exec_driver_sql(_FEEDBACK_POSTGRES if postgres else _FEEDBACK_SQLITE, rows)
            stored = conn.scalar(select(func.count()).where(FeedbackRow.id > newest)) or 0
            unknown: list[str] = []
            if stored < len(rows):  # some have no prediction: which? (refused: rolled back)
                ids = list(dict.fromkeys(request_id for request_id, _ in labels))
                known = self._known(conn, ids)
                unknown = [request_id for request_id in ids if request_id not in known]
                if not skip_unknown:
                    shown = ", ".join(unknown[:5]) + (
                        f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
                    )
                    raise NotFoundError(
                        f"{len(unknown)} request id(s) have no logged prediction: {shown}; "
                        "check the ids (each answer carries its request_id)"
                    )
        return int(stored), unknown

    def labelled(
        self,
        endpoint: str,
        *,
        first_id: int = 0,
        last_id: int | None = None,
        feedback_after: int = 0,
    ) -> list[Labelled]:
        """Each logged prediction of ``endpoint`` that has feedback, in the order of the log:
        those with ids from ``first_id`` to ``last_id``, and whose last label is newer than
        feedback row ``feedback_after``.

        Each prediction's last label is looked up by its request id (an index), from the
        predictions in the range or, after a mark, from the request ids labelled since:
        a read costs the rows it covers, not the size of the log or of the feedback (a
        join with the grouped feedback took seconds at a million labels, every pass)."""
        rows, streams = self._labelled_rows(endpoint, first_id, last_id, feedback_after)
        outputs: list[dict[str, Any]] = [{}] * len(rows)
        for stream_id in {row[1] for row in rows}:  # decoded in bulk, stream by stream
            at = [i for i, row in enumerate(rows) if row[1] == stream_id]
            decoded = answers([rows[i][3] for i in at], streams[stream_id])
            for i, answer in zip(at, decoded, strict=True):
                outputs[i] = answer
        truths = label_values([row[4] for row in rows])
        served = {
            i: (s.model_name, s.model_version, s.run_id, s.decider) for i, s in streams.items()
        }
        found = []
        for (id, stream_id, at_us, *_, feedback_id), answer, truth in zip(
            rows, outputs, truths, strict=True
        ):
            name, version, run, decider = served[stream_id]
            found.append(
                Labelled(id, moment(at_us), name, version, answer, truth, feedback_id, run, decider)
            )
        return found

    def has_shadow(self, endpoint: str) -> bool:
        """Whether a shadow has logged predictions of ``endpoint``."""
        return any(stream.role == "shadow" for stream in self.streams(endpoint).values())

    def labelled_columns(
        self,
        endpoint: str,
        *,
        first_id: int = 0,
        last_id: int | None = None,
        feedback_after: int = 0,
    ) -> LabelColumns:
        """What :meth:`labelled` reads, column by column and decoded in bulk."""
        return LabelColumns.read(*self._labelled_rows(endpoint, first_id, last_id, feedback_after))

    def _labelled_rows(
        self, endpoint: str, first_id: int, last_id: int | None, feedback_after: int
    ) -> tuple[list[Any], dict[int, Stream]]:
        streams = self.streams(endpoint)
        if not streams:
            return [], streams
        newer = feedback_after > 0
        query = _LABELLED.format(_NEWER if newer else _IN_RANGE, ", ".join("?" * len(streams)))
        # both ends of the feedback range: with one, SQLite scans the request_id index
        parameters = [*([feedback_after + 1, _NO_END] if newer else []), *streams]
        parameters += [first_id, _NO_END if last_id is None else last_id, feedback_after]
        with self.database.reading() as session:
            return _fetched(session, query, parameters), streams

    def _known(self, conn: Connection, request_ids: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(request_ids), _IDS_PER_QUERY):
            part = request_ids[start : start + _IDS_PER_QUERY]
            known.update(
                conn.scalars(
                    select(PredictionRow.request_id).where(PredictionRow.request_id.in_(part))
                ).all()
            )
        return known

    # --- windows and drift scores ----------------------------------------------------------

    def covered(self, endpoint: str) -> dict[Model, Covered]:
        """What the stored windows of each model of ``endpoint`` hold (see
        :class:`Covered`)."""
        w = MonitorWindowRow
        query = (
            select(
                w.model_name, w.model_version, w.run_id, func.max(w.last_id), func.max(w.ends_at)
            )
            .where(w.endpoint == endpoint)
            .group_by(w.model_name, w.model_version, w.run_id)
        )
        with self.database.reading() as session:
            rows = session.execute(query).all()
        return {
            (name, version, run): Covered(int(last), microseconds(as_utc(until) or until))
            for name, version, run, last, until in rows
        }

    def monitored_through(self, endpoint: str) -> int:
        """The log id up to which every prediction of ``endpoint`` is in a stored window
        (0: none yet): where the next pass starts reading."""
        with self.database.reading() as session:
            found = session.scalar(
                select(MonitorPositionRow.through).where(MonitorPositionRow.endpoint == endpoint)
            )
            return int(found or 0)

    def save_monitored_through(self, endpoint: str, through: int) -> None:
        """Keep :meth:`monitored_through` of ``endpoint``, once the windows that hold those
        predictions are stored."""
        with self.database.session() as session:
            row = session.get(MonitorPositionRow, endpoint, with_for_update=True)
            if row is None:
                session.add(MonitorPositionRow(endpoint=endpoint, through=through))
            else:
                row.through = through

    def add_window(self, window: Window, scores: Sequence[Score]) -> tuple[Window, list[Score]]:
        """Store a window and its scores (their ids are ignored); returns them with the id
        the window was given."""
        with self.database.session() as session:
            row = MonitorWindowRow(
                **asdict(window) | {"id": None, "metrics": jsonable(window.metrics)},
                created_at=utc_now(),
            )
            session.add(row)
            session.flush()
            stored = [replace(s, window_id=row.id) for s in scores]
            if stored:  # one executemany: the ORM's unit of work cost more than the scoring
                session.execute(insert(DriftScoreRow), [vars(s) for s in stored])
            return _as(Window, row), stored

    def update_metrics(self, window_id: int, metrics: dict[str, Any]) -> None:
        """Replace the metrics of a window (realized performance, as feedback arrives)."""
        with self.database.session() as session:
            session.execute(
                update(MonitorWindowRow)
                .where(MonitorWindowRow.id == window_id)
                .values(metrics=jsonable(metrics))
            )

    def windows(
        self,
        endpoint: str | None = None,
        *,
        newest: int | None = None,
        covering: tuple[int, int] | None = None,
        since: int | None = None,
    ) -> list[Window]:
        """The stored windows (of ``endpoint``), oldest first: only the ``newest`` ones,
        only those whose id range overlaps ``covering`` (first, last: each holds its own
        model's predictions in its range, not every one), or only window ``since`` and
        those stored after it."""
        w = MonitorWindowRow
        query = select(w).order_by(w.id.desc() if newest is not None else w.id)
        if endpoint is not None:
            query = query.where(w.endpoint == endpoint)
        if covering is not None:
            query = query.where(w.last_id >= covering[0], w.first_id <= covering[1])
        if since is not None:
            query = query.where(w.id >= since)
        with self.database.reading() as session:
            found = [_as(Window, row) for row in session.scalars(query.limit(newest)).all()]
        return found[::-1] if newest is not None else found

    def newest_window(self, endpoint: str, version: int) -> Window | None:
        """The newest stored window of ``endpoint`` served by model version ``version``."""
        with self.database.session() as session:
            row = session.scalars(
                select(MonitorWindowRow)
                .where(
                    MonitorWindowRow.endpoint == endpoint,
                    MonitorWindowRow.model_version == version,
                )
                .order_by(MonitorWindowRow.id.desc())
                .limit(1)
            ).first()
            return None if row is None else _as(Window, row)

    def scores(self, endpoint: str | None = None) -> list[Score]:
        """The drift scores of every stored window (of ``endpoint``), window by window."""
        with self.database.session() as session:
            query = (
                select(DriftScoreRow)
                .join(MonitorWindowRow, DriftScoreRow.window_id == MonitorWindowRow.id)
                .order_by(DriftScoreRow.window_id, DriftScoreRow.id)
            )
            if endpoint is not None:
                query = query.where(MonitorWindowRow.endpoint == endpoint)
            return [_as(Score, row) for row in session.scalars(query).all()]

    def newest_scores(self) -> list[tuple[str, Score]]:
        """Each endpoint's scores in its newest window: what ``/metrics`` shows."""
        with self.database.session() as session:
            newest = (
                select(func.max(MonitorWindowRow.id))
                .group_by(MonitorWindowRow.endpoint)
                .scalar_subquery()
            )
            rows = session.execute(
                select(MonitorWindowRow.endpoint, DriftScoreRow)
                .join(MonitorWindowRow, DriftScoreRow.window_id == MonitorWindowRow.id)
                .where(MonitorWindowRow.id.in_(newest))
            ).all()
            return [(endpoint, _as(Score, row)) for endpoint, row in rows]

    # --- alerts and change points ----------------------------------------------------------

    def fire(
        self, endpoint: str, rule: str, metric: str, value: float | None, window_id: int
    ) -> Alert:
        """Record that ``rule`` fired on window ``window_id``."""
        with self.database.session() as session:
            row = AlertRow(
                endpoint=endpoint,
                rule=rule,
                metric=metric,
                value=value,
                window_id=window_id,
                fired_at=utc_now(),
                resolved_at=None,
                deliveries={"webhooks": []},
            )
            session.add(row)
            session.flush()
            return _as(Alert, row)

    def delivered(self, alert_id: int, deliveries: builtins.list[dict[str, Any]]) -> None:
        """Keep what became of an alert's webhooks."""
        with self.database.session() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(deliveries={"webhooks": jsonable(deliveries)})
            )

    def resolve(self, alert_id: int, window_id: int | None = None) -> None:
        """Mark a firing alert resolved (by window ``window_id``)."""
        with self.database.session() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(resolved_at=utc_now(), resolved_window_id=window_id)
            )

    def alerts(self, endpoint: str | None = None, *, firing: bool = False) -> list[Alert]:
        """Alerts, newest first (only those still firing, if asked)."""
        with self.database.session() as session:
            query = select(AlertRow).order_by(AlertRow.id.desc())
            if endpoint is not None:
                query = query.where(AlertRow.endpoint == endpoint)
            if firing:
                query = query.where(AlertRow.resolved_at.is_(None))
            return [_as(Alert, row) for row in session.scalars(query).all()]

    def add_change_points(self, points: Sequence[ChangePoint]) -> list[ChangePoint]:
        """Store the change points not stored before; returns the new ones."""
        new = []
        with self.database.session() as session:
            for point in points:
                seen = session.scalar(
                    select(ChangePointRow.id).where(
                        ChangePointRow.endpoint == point.endpoint,
                        ChangePointRow.detector == point.detector,
                        ChangePointRow.started_id == point.started_id,
                    )
                )
                if seen is None:
                    session.add(ChangePointRow(**asdict(point), found_at=utc_now()))
                    new.append(point)
        return new

    def save_stream(self, endpoint: str, saved: SavedStream) -> None:
        """Keep what ``endpoint``'s error stream has read, in place of what was kept."""
        with self.database.session() as session:
            row = session.get(MonitorStreamRow, endpoint, with_for_update=True)
            if row is None:
                row = MonitorStreamRow(endpoint=endpoint)
                session.add(row)
            row.mark, row.detectors = saved.mark, {"detectors": saved.detectors}
            row.ids, row.times, row.saved_at = saved.ids, saved.times, utc_now()

    def saved_stream(self, endpoint: str) -> SavedStream | None:
        """What :meth:`save_stream` kept of ``endpoint``'s error stream, if anything."""
        with self.database.reading() as session:
            row = session.get(MonitorStreamRow, endpoint)
            if row is None:
                return None
            detectors = row.detectors["detectors"]
            return SavedStream(row.mark, detectors, bytes(row.ids), bytes(row.times))

    def change_points(
        self, endpoint: str | None = None, *, found_in: tuple[int, int] | None = None
    ) -> list[ChangePoint]:
        """The stored change points (found at predictions with ids in ``found_in``, first
        and last), in the order they began."""
        c = ChangePointRow
        query = select(c).order_by(c.started_id)
        if endpoint is not None:
            query = query.where(c.endpoint == endpoint)
        if found_in is not None:
            query = query.where(c.detected_id >= found_in[0], c.detected_id <= found_in[1])
        with self.database.reading() as session:
            return [_as(ChangePoint, row) for row in session.scalars(query).all()]

    def request_ids(self, ids: Sequence[int]) -> dict[int, str]:
        """The request ids of the logged predictions ``ids`` (those still in the log)."""
        p = PredictionRow
        with self.database.reading() as session:
            rows = session.execute(select(p.id, p.request_id).where(p.id.in_(set(ids)))).all()
        return {int(id): str(request_id) for id, request_id in rows}


def record(item: Any) -> dict[str, Any]:
    """A stored window, score, alert or change point as JSON-ready data (ISO 8601 times)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(item).items()}


def _logged(row: Any, stream: Stream) -> Logged:
    id, _, request_id, at, inputs, outputs, latency, arrived = row
    answer = decode_outputs(outputs, stream)
    return Logged(
        id,
        request_id,
        moment(at),
        stream.model_name,
        stream.model_version,
        decode_inputs(inputs, stream.columns),
        answer,
        confidence(answer),
        latency / 1e6,
        stream.run_id,
        stream.decider,
        None if arrived == at else moment(arrived),
    )


def _stream(row: LogStreamRow) -> Stream:
    classes = None if row.classes is None else tuple(row.classes)
    return Stream(
        row.endpoint,
        row.model_name,
        row.model_version,
        row.run_id,
        row.role,
        tuple(row.columns),
        classes,
        row.decided_by,
    )


def _as(kind: type[T], row: Any) -> T:
    """The dataclass ``kind`` made of the same-named attributes of a table row (times in
    UTC: SQLite hands them back naive)."""
    values = {f.name: getattr(row, f.name) for f in fields(kind)}  # type: ignore[arg-type]
    return kind(**{k: as_utc(v) if isinstance(v, datetime) else v for k, v in values.items()})


def _fetched(session: Session, query: str, parameters: Sequence[Any]) -> list[Any]:
    """The rows of ``query`` (parameters marked ``?``) through the driver's own cursor:
    SQLAlchemy's rows and their processing doubled the time of reading a large log."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        query = query.replace("?", "%s")
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    # no garbage collection while the rows pile up: they hold no cycles, and the
    # collections their number set off walked them over and over
    collecting = gc.isenabled()
    gc.disable()
    try:
        cursor.execute(query, parameters)
        return list(cursor.fetchall())
    finally:
        cursor.close()
        if collecting:
            gc.enable()
