"""The training set of a retrained model: the project's data plus the labelled history.

The labelled history is the prediction log's rows that have a feedback label (a review
queue's answers are feedback too), as a person or a file gave it up to the *cutoff*, the
moment retraining starts: a label received after it is not used, so a candidate never
learns from what was not yet known (and a backtest can replay the past without leakage).
A shadow's copies of a request are not rows: nobody was answered with them, and the
label belongs to the request, which the primary (or a canary) answered.

Everything is ordered by the project's time column (``data.time``), a logged row by the
time it was predicted. Without ``data.time``, the data's rows have no time: they come
first, in their order, then the logged rows by their time (in the column
:data:`LOGGED_AT`); ``since`` and a ``window`` of a duration leave them out (their age is
unknown), and ``weighted`` gives them the weight of the oldest logged row (1 when
there is none).

>>> import pandas as pd
>>> from datetime import UTC, datetime, timedelta
>>> from prodml.config import parse_settings
>>> settings = parse_settings({"project": "p", "model": "x.Y", "data": {
...     "source": "d.csv", "target": "y", "time": "at"}})
>>> data = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0],
...     "at": pd.to_datetime(["2026-01-01", "2026-01-21", "2026-01-31"], utc=True)})
>>> cutoff = datetime(2026, 1, 31, tzinfo=UTC)
>>> built = build(data, data.iloc[:0], settings, "weighted", cutoff=cutoff,
...               half_life=timedelta(days=10))
>>> built.weights.tolist(), built.rows_from_data, built.first.day
([0.125, 0.5, 1.0], 3, 1)
>>> build(data, data.iloc[:0], settings, "window", cutoff=cutoff, window=2).frame["x"].tolist()
[2.0, 3.0]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from prodml.config import Settings, Strategy
from prodml.data.fingerprint import fingerprint
from prodml.errors import ConfigError
from prodml.retrain.spans import duration, rows_or_duration
from prodml.store.log_columns import LogColumns
from prodml.store.log_format import microseconds
from prodml.store.tables import FeedbackRow, PredictionRow

if TYPE_CHECKING:
    from prodml.project import Project

__all__ = [
    "LOGGED_AT",
    "RECEIVED_AT",
    "Strategy",
    "TrainingSet",
    "build",
    "labelled_history",
    "labels_like",
    "time_column",
]

#: The time column of the rows when the project has no ``data.time``: when each logged
#: row was predicted (a data row's is missing).
LOGGED_AT = "_logged_at"
#: The column of :func:`labelled_history` saying when each label was received (:func:`build`
#: drops the rows whose label came after its cutoff, and the column).
RECEIVED_AT = "_label_received_at"


@dataclass(frozen=True, eq=False)  # eq=False: a frame has no single truth value
class TrainingSet:
    """What a candidate is fitted on, and where it came from (its lineage)."""

    frame: pd.DataFrame  # feature columns + target (+ the time column), ordered by time
    weights: np.ndarray | None  # recency weights (strategy "weighted"), else None
    strategy: Strategy
    cutoff: datetime  # nothing labelled after this moment is in the set
    first: datetime | None  # the data window: earliest and latest time in the set
    last: datetime | None
    rows_from_data: int  # rows from the project's data
    rows_from_log: int  # rows from logged predictions with feedback labels
    fingerprint: str  # prodml's data fingerprint of frame (+ weights)

    @property
    def rows(self) -> int:
        return self.rows_from_data + self.rows_from_log

    def summary(self) -> dict[str, Any]:
        """The lineage as plain values (times as ISO 8601 text)."""
        return {
            "strategy": self.strategy,
            "cutoff": self.cutoff.isoformat(),
            "first": None if self.first is None else self.first.isoformat(),
            "last": None if self.last is None else self.last.isoformat(),
            "rows": self.rows,
            "rows_from_data": self.rows_from_data,
            "rows_from_log": self.rows_from_log,
            "fingerprint": self.fingerprint,
        }


def time_column(settings: Settings) -> str:
    """The column that orders the rows: ``data.time``, else :data:`LOGGED_AT`."""
    return settings.data.time or LOGGED_AT


def labelled_history(
    project: Project, endpoint: str | None = None, *, cutoff: datetime
) -> pd.DataFrame:
    """Logged predictions (shadow copies excluded) that have a feedback label received at or
    before `cutoff` (review-queue answers included), as a frame with the project's feature
    columns, the target column (the label) and the time column (the prediction's time);
    ordered by time.

    ``endpoint`` defaults to ``monitor.endpoint``, else the project's name. The inputs
    logged beside the features (``data.metadata``) are kept; ``data.id`` holds the request
    id; :data:`RECEIVED_AT` when the label used (the last one received by the cutoff) came.
    """
    settings = project.settings
    cutoff = _utc(cutoff)
    name = endpoint or settings.monitor.endpoint or project.name
    streams = {k: s for k, s in project.monitoring.streams(name).items() if s.role != "shadow"}
    target, time = settings.data.target, time_column(settings)
    if not streams:
        empty = [target, time, RECEIVED_AT]
        return pd.DataFrame({c: pd.Series(dtype=object) for c in empty})
    p, label = PredictionRow, aliased(FeedbackRow)
    older = aliased(FeedbackRow)
    newest = (
        select(func.max(older.id))
        .where(older.request_id == p.request_id, older.received_at <= cutoff)
        .scalar_subquery()
    )
    query = (
        select(
            p.id,
            p.stream_id,
            p.request_id,
            p.at_us,
            p.inputs,
            p.outputs,
            p.latency_us,
            label.label,
            label.received_at,
        )
        .join(label, label.id == newest)
        .where(p.stream_id.in_(list(streams)), p.at_us <= microseconds(cutoff))
        .order_by(p.id)
    )
    with project.runs_store.database.reading() as session:
        rows = [tuple(row) for row in session.execute(query).all()]
    columns = LogColumns.read(
        [(*row[:4], bytes(row[4]), bytes(row[5]), row[6], row[3]) for row in rows], streams
    )
    frame = columns.inputs.copy()
    frame[target] = [row[7]["value"] for row in rows]
    frame[time] = pd.to_datetime(columns.at_us, unit="us", utc=True)
    if settings.data.id is not None:
        frame[settings.data.id] = [row[2] for row in rows]
    frame[RECEIVED_AT] = pd.to_datetime([_utc(row[8]) for row in rows], utc=True)
    ordered: pd.DataFrame = frame.sort_values(time, kind="stable").reset_index(drop=True)
    return ordered


def build(
    data: pd.DataFrame,
    history: pd.DataFrame,
    settings: Settings,
    strategy: Strategy,
    *,
    cutoff: datetime,
    since: datetime | None = None,
    window: timedelta | int | None = None,
    half_life: timedelta | None = None,
) -> TrainingSet:
    """Pure (no store access): the project's data plus the labelled history, rows after
    `cutoff` dropped, ordered by the time column; `since` drops older rows; `window` keeps
    the last duration (timedelta) or the last N rows (int); `weighted` gives weight
    0.5 ** (age / half_life) with age measured back from `cutoff`.

    ``window`` and ``half_life`` default to ``retrain.window`` and ``retrain.half_life``;
    ``window`` applies to the strategy ``window`` only. The history's labels take the
    data's target type where they can (feedback may give 1.0 for 1); its columns that
    the data lacks are left out.
    """
    cutoff = _utc(cutoff)
    time, target = time_column(settings), settings.data.target
    if settings.data.time is not None and time not in data.columns:
        raise ConfigError(f"data.time '{time}' is not a column of the data to retrain on")
    if RECEIVED_AT in history.columns:
        history = history[~(history[RECEIVED_AT] > cutoff)].drop(columns=RECEIVED_AT)
    unknown = pd.Series(pd.NaT, index=data.index, dtype="datetime64[ns, UTC]")
    data = data.assign(**{time: _times(data[time]) if time in data.columns else unknown})
    history = history.assign(**{time: _times(history[time])})
    if len(history) and target in data.columns and target in history.columns:
        history = history.assign(**{target: labels_like(history[target], data[target])})
    kept = [c for c in data.columns if c in history.columns]
    parts = [data.assign(_from_log=False)]
    if len(history):  # an empty one would turn the target's type to object
        parts.append(history[kept].assign(_from_log=True))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[~(frame[time] > cutoff)]
    frame = frame.sort_values(time, kind="stable", na_position="first")
    if since is not None:
        frame = frame[frame[time] >= _utc(since)]
    if strategy == "window":
        frame = _window(frame, time, cutoff, _window_setting(window, settings))
    frame = frame.reset_index(drop=True)
    weights = None
    if strategy == "weighted":
        weights = _weights(frame[time], cutoff, _half_life(half_life, settings))
    from_log = frame.pop("_from_log").to_numpy(dtype=bool)
    if settings.data.time is None and not from_log.any():
        frame = frame.drop(columns=time)
    known = frame[time].dropna() if time in frame.columns else pd.Series(dtype=object)
    digest = fingerprint(frame)
    if weights is not None:
        digest = hashlib.sha256(digest.encode() + weights.tobytes()).hexdigest()
    return TrainingSet(
        frame=frame,
        weights=weights,
        strategy=strategy,
        cutoff=cutoff,
        first=known.min().to_pydatetime() if len(known) else None,
        last=known.max().to_pydatetime() if len(known) else None,
        rows_from_data=int((~from_log).sum()),
        rows_from_log=int(from_log.sum()),
        fingerprint=digest,
    )


def _window(
    frame: pd.DataFrame, time: str, cutoff: datetime, window: timedelta | int | None
) -> pd.DataFrame:
    if window is None:
        raise ConfigError(
            "strategy window needs a window: give --window 90d (a duration) or --window 5000 "
            "(the newest rows), or set retrain.window in prodml.yaml"
        )
    if isinstance(window, int):
        return frame.iloc[max(len(frame) - window, 0) :]
    return frame[frame[time] >= cutoff - window]


def _weights(times: pd.Series, cutoff: datetime, half_life: timedelta) -> np.ndarray:
    age = (cutoff - times).dt.total_seconds().to_numpy(dtype=float)
    weights: np.ndarray = 0.5 ** (age / half_life.total_seconds())
    unknown = np.isnan(weights)
    if unknown.any():
        weights[unknown] = weights[~unknown].min() if (~unknown).any() else 1.0
    return weights


def _window_setting(window: timedelta | int | None, settings: Settings) -> timedelta | int | None:
    if window is not None:
        return window
    return rows_or_duration(settings.retrain.window, "retrain.window")


def _half_life(half_life: timedelta | None, settings: Settings) -> timedelta:
    return half_life or duration(settings.retrain.half_life, "retrain.half_life")


def _times(column: pd.Series) -> pd.Series:
    """A time column in UTC (naive times taken as UTC)."""
    return pd.to_datetime(column, utc=True)


def labels_like(labels: pd.Series, target: pd.Series) -> pd.Series:
    """Feedback labels as the data's target type where they can be (feedback may give
    1.0 for a class 1), else as they are."""
    try:
        return labels.astype(target.dtype)
    except (TypeError, ValueError):
        return labels


def _utc(moment: datetime) -> datetime:
    """An aware time in UTC (a naive one taken as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
