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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from prodml.data.schema import Schema, validate
from prodml.store.log_columns import LogColumns, Model, by_model
from prodml.store.log_format import moment
from prodml.store.monitoring import Covered, Logged

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
    "late_rows",  # its model's rows logged after their time slot's window had closed
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
#: The realized performance metrics (and prefixes): measured on a window's labels, which
#: may be a handful (see ``monitor.min_labels``).
REALIZED = ("accuracy", "mae", "roc_auc", "pr_auc", "automatic_accuracy", "human_agreement")
REALIZED_PREFIXED = ("recall", "f1")


def known_metric(name: str) -> bool:
    """Whether a window can have a metric called ``name``."""
    prefix, dot, rest = name.partition(".")
    return name in METRICS or (bool(dot) and bool(rest) and prefix in PREFIXED)


def realized(name: str) -> bool:
    """Whether metric ``name`` is realized performance, measured on labels.

    >>> realized("accuracy"), realized("recall.1"), realized("drift_share")
    (True, True, False)
    """
    return name in REALIZED or name.partition(".")[0] in REALIZED_PREFIXED


class Cut(NamedTuple):
    """A window :meth:`Cutter.cut` closed: its rows, whether it is partial (closed before
    its end by ``close``), and how many rows of its model came late before it (see
    :class:`Cutter`)."""

    rows: LogColumns
    partial: bool
    late: int


class Cutter:
    """Cuts an endpoint's log, read in chunks (oldest first), into the windows of each
    model (version, or run for version 0), whatever other models' rows lie between its
    rows: a canary's requests among its primary's get windows of their own, not a window
    at every switch of model.

    ``window`` is a number of predictions (an int) or seconds (a float). A window of
    predictions is closed when it holds ``window`` rows of its model, or early, as a
    partial one, when its model has gone idle: ``window`` rows of other models were read
    after its last row.

    A window of time holds its model's rows of one time slot, whatever their order in the
    log: a row's time is its event's where its request carried one, else its arrival
    (:class:`~prodml.store.log_columns.LogColumns`). A slot closes once its model's
    watermark, the newest time read of its rows, is ``lateness`` seconds past the slot's
    end, or once ``now`` is and none of its model's rows arrived in the last ``lateness``
    seconds (a model whose traffic stopped). A row whose slot is already closed came late:
    it is in no window, and is counted in the ``late`` of the next window of its model to
    close that holds a row logged after it.

    With ``close``, every window still open is closed as well, as a partial one. Rows in
    stored windows (``covered``, :meth:`~prodml.store.monitoring.Monitoring.covered`), or
    counted as late there, are skipped, though they count towards other models' idleness.

    :meth:`cut` yields the windows in the order they closed (at the row that filled it,
    made its model idle or moved its watermark past it; or at the end of the read),
    whatever the chunks, so that a log read in one pass or in several gives the same
    windows in the same order. Only the chunk being read and each model's open windows
    are held in memory.

    >>> from prodml.store.monitoring import Logged
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> def row(i, version, minute=0):
    ...     return Logged(i, f"r{i}", at + timedelta(minutes=minute), "m", version, {}, {}, 0.9, 0)
    >>> log = LogColumns.of([row(i, 2 if i % 3 == 0 else 1) for i in range(1, 13)])
    >>> cutter = Cutter(3, at)
    >>> [(cut.rows.id.tolist(), cut.partial) for cut in cutter.cut([log])]
    [([1, 2, 4], False), ([5, 7, 8], False), ([3, 6, 9], False)]
    >>> cutter.through  # every row up to here is in a window: 10 to 12 wait for more
    9

    Windows of an hour, five minutes late at most: rows 1, 3 and 4 are the first hour's,
    though 2 (at 1:02, within the five minutes) came between them; row 6 (at 0:15) is
    late, since row 5 moved the watermark to 1:20; the second hour holds 2, 5 and 7 and
    counts row 6; the third waits for what may still come:

    >>> minutes = [10, 62, 20, 50, 80, 15, 100, 130]
    >>> log = LogColumns.of([row(i, 1, m) for i, m in enumerate(minutes, 1)])
    >>> cutter = Cutter(3600.0, at + timedelta(hours=3), lateness=300.0)
    >>> [(cut.rows.id.tolist(), cut.late) for cut in cutter.cut([log])]
    [([1, 3, 4], 0), ([2, 5, 7], 1)]
    >>> cutter.through  # row 8 waits
    7
    """

    def __init__(
        self,
        window: int | float,
        now: datetime,
        *,
        close: bool = False,
        covered: Mapping[Model, Covered] | None = None,
        lateness: float = 5.0,
    ) -> None:
        self.window = window
        self.now = now
        self.close = close
        self.lateness = lateness
        self._covered = dict(covered or {})
        self._open: dict[Model, LogColumns] = {}  # each model's rows not yet in a window
        self._last: dict[Model, int] = {}  # the place in the read of its last row
        self._read = 0  # rows read, of every model
        self._last_id = 0
        # windows of time: each model's watermark and newest arrival (microseconds), its
        # first slot still open, and the ids of its late rows not yet counted
        self._mark: dict[Model, int] = {}
        self._arrived: dict[Model, int] = {}
        self._first_open: dict[Model, int] = {}
        self._late: dict[Model, np.ndarray] = {}

    @property
    def through(self) -> int | None:
        """Once :meth:`cut` is done, the id up to which every row read is in a window it
        closed, counted as late in one, or in ``covered`` (None: it read nothing): where
        the next cut reads from."""
        waiting = [int(rows.id[0]) for rows in self._open.values()]
        waiting += [int(ids[0]) for ids in self._late.values() if ids.size]
        if waiting:
            return min(waiting) - 1
        return self._last_id if self._read else None

    def cut(self, chunks: Iterable[LogColumns]) -> Iterator[Cut]:
        """The closed windows of the log read in ``chunks``, one at a time."""
        for chunk in chunks:
            if len(chunk):
                yield from _in_order(self._chunk(chunk))
        yield from _in_order(self._finish())

    def _chunk(self, chunk: LogColumns) -> list[_Closed]:
        """The windows the rows of ``chunk`` close."""
        base = self._read
        self._read += len(chunk)
        self._last_id = int(chunk.id[-1])
        closed: list[_Closed] = []
        for model, at in by_model(chunk):
            if not isinstance(self.window, int):
                closed += self._slots(model, chunk if at.size == len(chunk) else chunk[at])
                continue
            if model in self._covered:
                at = at[chunk.id[at] > self._covered[model].last_id]
            if at.size:
                rows = chunk if at.size == len(chunk) else chunk[at]
                closed += self._count(model, rows, self.window, base + at, chunk.id, base)
        if isinstance(self.window, int):  # the models that went idle at the chunk's end
            for model in list(self._open):
                idle_at = self._last[model] + self.window
                if idle_at < self._read:
                    rows = self._open.pop(model)
                    closed.append((int(chunk.id[idle_at - base]), int(rows.id[0]), rows, True, 0))
        return closed

    def _count(
        self,
        model: Model,
        rows: LogColumns,
        window: int,
        places: np.ndarray,
        ids: np.ndarray,
        base: int,
    ) -> list[_Closed]:
        """The windows of ``window`` predictions that ``rows`` of ``model`` close
        (``places``: theirs in the read; ``ids``: those of the chunk's rows, the first of
        which is the read's ``base``-th)."""
        held = self._open.pop(model, None)
        before = len(held) if held is not None else 0
        if held is not None:
            rows = LogColumns.joined([held, rows])
            places = np.concatenate(([self._last[model]], places))
        # a row more than a window of other rows after its model's last one: idle between
        idle = (np.flatnonzero(np.diff(places) - 1 >= window) + max(before, 1)).tolist()
        last = np.concatenate((np.full(max(before - 1, 0), -1), places))  # by row of rows
        closed: list[_Closed] = []
        for start, end in itertools.pairwise([0, *idle, len(rows)]):
            full = list(range(start + window, end + 1, window))
            for stop in full:
                part = rows[stop - window : stop]
                closed.append((int(part.id[-1]), int(part.id[0]), part, False, 0))
            rest = full[-1] if full else start
            if end < len(rows) and rest < end:  # its model went idle after it
                # the row that made it idle: in this chunk, or the last would have seen it
                idle_id = int(ids[int(last[end - 1]) + window - base])
                closed.append((idle_id, int(rows.id[rest]), rows[rest:end], True, 0))
            elif end == len(rows) and rest < end:
                self._open[model] = rows[rest:]
        self._last[model] = int(places[-1])
        return closed

    def _slots(self, model: Model, rows: LogColumns) -> list[_Closed]:
        """The windows of time that ``rows`` of ``model`` close: the slots its watermark
        passes. Rows of slots already closed are late, unless ``covered`` holds them."""
        window, lateness = float(self.window), round(self.lateness * 1e6)
        covered = self._covered.get(model)
        stored = None  # the first slot after its stored windows
        if covered is not None:
            stored = int(_slots_of(np.array([covered.until_us]), window)[0])
        opened = self._first_open.setdefault(model, -(2**62) if stored is None else stored)
        # the watermark after each row, and the first slot it leaves open
        marks = np.maximum(np.maximum.accumulate(rows.at_us), self._mark.get(model, -(2**62)))
        first_open = np.maximum(_slots_of(marks - lateness, window), opened)
        self._mark[model] = int(marks[-1])
        self._arrived[model] = max(int(rows.arrived_us.max()), self._arrived.get(model, 0))
        slots = _slots_of(rows.at_us, window)
        closed_before = slots < np.concatenate(([opened], first_open[:-1]))
        if covered is not None and stored is not None:  # in a stored window, or late there
            done = (rows.id <= covered.last_id) & (slots < stored)
            closed_before &= ~done
        else:
            done = np.zeros(len(rows), dtype=bool)
        if closed_before.any():
            late = rows.id[closed_before]
            self._late[model] = np.concatenate((self._late.get(model, _NONE), late))
        self._first_open[model] = int(first_open[-1])
        keep = ~(closed_before | done)
        kept = rows if keep.all() else rows[np.flatnonzero(keep)]
        held = self._open.pop(model, None)
        if held is not None:
            kept = LogColumns.joined([held, kept])
        if not len(kept):
            return []
        closed: list[_Closed] = []
        open_slots = _slots_of(kept.at_us, window)
        for slot in np.unique(open_slots[open_slots < first_open[-1]]).tolist():
            # at the row whose watermark passed the slot: the first that leaves it closed
            at = int(np.searchsorted(first_open, slot, side="right"))
            part = kept[np.flatnonzero(open_slots == slot)]
            closed.append(self._closing(model, int(rows.id[at]), part, False))
        waiting = open_slots >= first_open[-1]
        if waiting.any():
            self._open[model] = kept if waiting.all() else kept[np.flatnonzero(waiting)]
        return closed

    def _closing(self, model: Model, at: int, rows: LogColumns, partial: bool) -> _Closed:
        """Window ``rows`` of ``model``, closed at row ``at``, with the late rows of its
        model logged before its last row counted in it."""
        late = self._late.get(model, _NONE)
        counted = int(np.count_nonzero(late < rows.id[-1]))
        if counted:
            self._late[model] = late[counted:]
        return at, int(rows.id[0]), rows, partial, counted

    def _finish(self) -> list[_Closed]:
        """The windows still open that the end of the read closes: with ``close``, all of
        them; else the slots past of each model of time gone idle."""
        closed: list[_Closed] = []
        for model, rows in list(self._open.items()):
            if isinstance(self.window, int):
                if self.close:
                    closed.append((_LAST, int(rows.id[0]), self._open.pop(model), True, 0))
                continue
            lateness = timedelta(seconds=self.lateness)
            idle = moment(self._arrived[model]) + lateness <= self.now
            slots = _slots_of(rows.at_us, self.window)
            done = np.zeros(len(rows), dtype=bool)
            for slot in np.unique(slots).tolist():
                past = idle and _slot_end(slot, self.window) + lateness <= self.now
                if not (past or self.close):
                    break
                here = slots == slot
                closed.append(self._closing(model, _LAST, rows[np.flatnonzero(here)], not past))
                done |= here
            if done.all():
                del self._open[model]
            elif done.any():
                self._open[model] = rows[np.flatnonzero(~done)]
        return closed


#: A window closed: the id of the row that closed it, its first row's id, its rows,
#: whether it is partial, and the late rows counted in it.
_Closed = tuple[int, int, LogColumns, bool, int]
#: What closes the windows the end of a read closes: after every row.
_LAST = 2**63 - 1
_NONE = np.empty(0, dtype=np.int64)


def _in_order(closed: list[_Closed]) -> Iterator[Cut]:
    """The windows, in the order they closed (at one row: the oldest first)."""
    for _, _, rows, partial, late in sorted(closed, key=lambda c: (c[0], c[1])):
        yield Cut(rows, partial, late)


def _slots_of(times: np.ndarray, window: float) -> np.ndarray:
    """The time slot of each of ``times`` (microseconds), as :func:`_slot` tells one."""
    return np.floor(times / 1e6 / window).astype(np.int64)


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
        if values.dtype == np.float64 and column.kind in ("number", "integer"):
            found.update(_float_summary(column.name, values.to_numpy()))
        else:
            found[f"missing.{column.name}"] = float(values.isna().mean())
        if column.kind == "datetime" or (
            column.kind in ("number", "integer") and values.dtype != np.float64
        ):
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


def _float_summary(name: str, values: np.ndarray) -> dict[str, Any]:
    """The missing share, mean and standard deviation of a column of floats, as pandas'
    ``isna().mean()``, ``mean()`` and ``std()`` give them (the same sums, in the same
    order: the same floats), without a Series each: they cost more than the sums."""
    missing = np.isnan(values)
    gaps = int(np.count_nonzero(missing))
    count = values.size - gaps
    if gaps:
        values = np.where(missing, 0.0, values)
    mean = values.sum(dtype=np.float64) / count if count else math.nan
    squares = (mean - values) ** 2
    if gaps:
        squares[missing] = 0.0
    std = math.sqrt(squares.sum(dtype=np.float64) / (count - 1)) if count > 1 else math.nan
    return {
        f"missing.{name}": gaps / values.size if values.size else math.nan,
        f"mean.{name}": _finite(mean),
        f"std.{name}": _finite(std),
    }


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
