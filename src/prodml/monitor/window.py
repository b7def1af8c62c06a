"""One window of the prediction log: cutting the log into windows, and the software, input
and output metrics of each.

Metric names are flat, so that an alert rule names one (``latency_p99_seconds``,
``missing.income``, ``class_share.1``); :func:`known_metric` says which names exist.

>>> known_metric("drift.income"), known_metric("latency_p98_seconds")
(True, False)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from prodml.data.schema import Schema, validate
from prodml.store.log_columns import LogColumns
from prodml.store.monitoring import Logged

#: The rows of a window: decoded one by one, or as columns.
Rows = Sequence[Logged] | LogColumns

#: The metrics every window may have.
METRICS = (
    "requests",
    "errors",
    "error_rate",
    "throughput_per_second",
    "latency_p50_seconds",
    "latency_p95_seconds",
    "latency_p99_seconds",
    "mean_confidence",
    "confidence_shift",
    "null_share",
    "deferred_share",
    "fallback_share",
    "queue_size",
    "queue_age_p95_seconds",
    "automatic_accuracy",
    "human_agreement",
    "drift_share",
    "dataset_drift",
    "prediction_drift",
    "confidence_drift",
    "labelled",
    "labelled_share",
    "accuracy",
    "mae",
    "roc_auc",
    "pr_auc",
    "concept_change",
)
#: Metrics per feature or per class: ``PREFIX.name``.
PREFIXED = (
    "drift",
    "skew",
    "missing",
    "out_of_range",
    "unseen",
    "mean",
    "std",
    "text_length",
    "class_share",
    "recall",
    "f1",
)
#: Seconds a time window waits after its end for predictions still being committed.
GRACE_SECONDS = 5.0


def known_metric(name: str) -> bool:
    """Whether a window can have a metric called ``name``."""
    prefix, dot, rest = name.partition(".")
    return name in METRICS or (bool(dot) and bool(rest) and prefix in PREFIXED)


def cut(
    chunks: Iterable[LogColumns], window: int | float, now: datetime, *, close: bool = False
) -> Iterator[tuple[LogColumns, bool]]:
    """The closed windows of the log read in ``chunks`` (oldest first, one model each), one
    at a time, each with whether it is partial: only the chunk being read and the window
    being filled are held in memory.

    ``window`` is a number of predictions (an int) or seconds (a float). A window of
    predictions is closed when it is full; one of time once ``now`` is ``GRACE_SECONDS``
    past its end (a later one waits for it: windows are stored in the log's order). Either
    is closed early when another model (version, or run for version 0) follows it: its
    model gets no more rows. With ``close``, the windows still open are closed as well, as
    partial ones: the last rows of a window of predictions, and the time slots not yet past.
    """
    pending: LogColumns | None = None
    until = datetime.max.replace(tzinfo=UTC) if close else now
    for chunk in chunks:
        rows = chunk if pending is None else LogColumns.joined([pending, chunk])
        ends, waiting = _ends(rows, window, until)
        for start, end in itertools.pairwise([0, *ends]):
            yield rows[start:end], _open(rows[start:end], window, now)
        if waiting:
            return
        rest = rows[ends[-1] :] if ends else rows
        pending = rest if len(rest) else None
    if pending is None:
        return
    if isinstance(window, int):
        if close:
            yield pending, True
    elif _past(_slot(pending.created_at(0), window), window, until):
        yield pending, _open(pending, window, now)


def _open(rows: LogColumns, window: int | float, now: datetime) -> bool:
    """Whether a window of time cut from ``rows`` is not yet past at ``now`` (a window of
    predictions cut by :func:`_ends` is full, or closed by another model)."""
    return not isinstance(window, int) and not _past(_slot(rows.created_at(0), window), window, now)


def _ends(rows: LogColumns, window: int | float, now: datetime) -> tuple[list[int], bool]:
    """Where the closed windows of ``rows`` end (exclusive), and whether a window of time
    that is not yet past stops the cut before the last model's rows."""
    model = (rows.model_version[1:] != rows.model_version[:-1]) | (
        rows.run_id[1:] != rows.run_id[:-1]
    )
    if isinstance(window, int):
        starts = [0, *(np.flatnonzero(model) + 1).tolist()]
        ends: list[int] = []
        for start, end in itertools.pairwise([*starts, len(rows)]):
            ends.extend(range(start + window, end + 1, window))  # full
            if end < len(rows) and (not ends or ends[-1] != end):
                ends.append(end)  # closed early: another model follows
        return ends, False
    slots = np.floor(rows.at_us / 1e6 / window)  # as _slot: seconds since 1970 / window
    ends = []
    for end in (np.flatnonzero(model | (slots[1:] != slots[:-1])) + 1).tolist():
        if not model[end - 1] and not _past(int(slots[end - 1]), window, now):
            return ends, True
        ends.append(end)
    return ends, False


def _past(slot: int, seconds: float, now: datetime) -> bool:
    """Whether time slot ``slot`` ended GRACE_SECONDS or more before ``now``."""
    return _slot_end(slot, seconds) + timedelta(seconds=GRACE_SECONDS) <= now


def bounds(rows: LogColumns, window: int | float) -> tuple[datetime, datetime]:
    """Where a window starts and ends: its time slot, or its first and last prediction."""
    if isinstance(window, int):
        return rows.created_at(0), rows.created_at(len(rows) - 1)
    key = _slot(rows.created_at(0), window)
    return _slot_end(key - 1, window), _slot_end(key, window)


def inputs_frame(rows: Rows, schema: Schema) -> pd.DataFrame:
    """The logged inputs as a frame of the schema's columns and kinds (numbers as floats,
    datetimes as UTC timestamps, the rest as text). The ``data.metadata`` fields logged
    beside some rows (:mod:`prodml.serve.metadata`) are left out: they are no features.

    >>> from prodml.data.schema import infer_schema
    >>> from prodml.store.monitoring import Logged
    >>> schema = infer_schema(pd.DataFrame({"income": [1.0, 2.0]}))
    >>> row = Logged(1, "r", datetime.now(UTC), "m", 1, {"income": 3, "gender": "f"}, {}, None, 0)
    >>> inputs_frame([row], schema).to_dict("list")
    {'income': [3.0]}
    """
    frame = as_columns(rows).inputs
    columns: dict[str, pd.Series] = {}
    for column in schema.columns:
        values = frame[column.name] if column.name in frame else pd.Series([None] * len(frame))
        if column.kind in ("number", "integer") and values.dtype == np.float64:
            columns[column.name] = values  # as the log's floats are read: numbers already
        elif column.kind in ("number", "integer"):
            columns[column.name] = pd.to_numeric(values, errors="coerce").astype(float)
        elif column.kind == "datetime":
            columns[column.name] = pd.to_datetime(values, errors="coerce", utc=True)
        else:
            columns[column.name] = values.astype(object).where(values.notna(), None)
    return pd.DataFrame(columns, index=range(len(frame)))


def predicted(rows: Rows) -> pd.Series:
    """Each prediction's label (or regression value); None where the answer had none."""
    return pd.Series(as_columns(rows).label, dtype=object)


def as_columns(rows: Rows) -> LogColumns:
    """Rows of the log as columns (decoded rows are turned into columns)."""
    return rows if isinstance(rows, LogColumns) else LogColumns.of(rows)


def window_metrics(
    rows: Rows,
    frame: pd.DataFrame,
    schema: Schema,
    *,
    starts_at: datetime,
    ends_at: datetime,
    errors: int,
) -> dict[str, Any]:
    """Software, input and output metrics of one window (``frame``: :func:`inputs_frame`)."""
    rows = as_columns(rows)
    latency = rows.latency_seconds
    seconds = (ends_at - starts_at).total_seconds()
    metrics: dict[str, Any] = {
        "requests": len(rows),
        "errors": errors,
        "error_rate": errors / (errors + len(rows)),
        "throughput_per_second": len(rows) / seconds if seconds > 0 else None,
        **{f"latency_p{q}_seconds": float(np.quantile(latency, q / 100)) for q in (50, 95, 99)},
    }
    metrics.update(_inputs(frame, schema))
    metrics.update(_outputs(rows))
    return metrics


def _inputs(frame: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    found: dict[str, Any] = {}
    rows = len(frame)
    for column in schema.columns:
        values = frame[column.name]
        found[f"missing.{column.name}"] = float(values.isna().mean())
        if column.kind in ("number", "integer", "datetime"):
            numbers = values if column.kind != "datetime" else _seconds(values)
            found[f"mean.{column.name}"] = _finite(numbers.mean())
            found[f"std.{column.name}"] = _finite(numbers.std())
        elif column.kind == "text":
            found[f"text_length.{column.name}"] = _finite(
                values.dropna().astype(str).str.len().mean()
            )
        found[f"out_of_range.{column.name}"] = 0.0
        if column.kind in ("category", "boolean"):
            found[f"unseen.{column.name}"] = 0.0
    for anomaly in validate(frame, schema, missing_jump=1.0):
        if anomaly.kind in ("out_of_range", "unseen_category"):
            name = "out_of_range" if anomaly.kind == "out_of_range" else "unseen"
            found[f"{name}.{anomaly.column}"] = anomaly.count / rows
    return found


def _outputs(rows: LogColumns) -> dict[str, Any]:
    labels = predicted(rows)
    confidence = rows.confidence[~np.isnan(rows.confidence)]
    found: dict[str, Any] = {
        "null_share": float(labels.isna().mean()),
        "deferred_share": np.count_nonzero(rows.decided_by == "person") / len(rows),
        "fallback_share": np.count_nonzero(rows.decided_by == "fallback") / len(rows),
        "mean_confidence": float(np.mean(confidence)) if confidence.size else None,
    }
    if not rows.valued.any():
        shares = labels.dropna().astype(str).value_counts(normalize=True)
        found.update({f"class_share.{label}": float(share) for label, share in shares.items()})
    return found


def _seconds(values: pd.Series) -> pd.Series:
    return pd.Series(values.astype("int64").where(values.notna()) / 1e9, dtype=float)


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _slot(moment: datetime, seconds: float) -> int:
    return math.floor(moment.timestamp() / seconds)


def _slot_end(slot: int, seconds: float) -> datetime:
    return datetime.fromtimestamp((slot + 1) * seconds, tz=UTC)
