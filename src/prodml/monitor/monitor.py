"""One pass of the monitor over an endpoint's prediction log.

A pass (:meth:`Monitor.run`):

1. cuts the predictions not yet in a stored window into closed windows, each of one
   model's predictions (:class:`prodml.monitor.window.Cutter`: a canary's rows among its
   primary's get windows of their own; windows of time by each row's event time, else
   its arrival, closed once the model's newest time is ``monitor.lateness`` past them,
   rows that come later counted as ``late_rows``; with ``close``, every open one too,
   marked ``partial``), and keeps where the next pass reads from. For each window it computes
   the software, input and output metrics, the drift of every feature and of the
   outputs against the model version's reference profile, and, for a version's first
   window, the training-serving skew against its training rows; it stores the window
   and every score (scored in worker processes while the log is still read, see
   :mod:`prodml.monitor.workers`, and stored in the order they were cut). A window of
   fewer than ``monitor.min_rows`` rows gets no drift verdict (``too_few_rows``): a handful of rows
   would be "drifted" on every feature;
2. reads the feedback received since its last pass: the streaming detectors carry on
   over the error stream of the labelled predictions to find where the error rate
   changed (:mod:`prodml.monitor.feedback`), and realized performance (accuracy, recall
   and F1 per class, or MAE) is recomputed for the windows that got labels, change
   points, or are new (for every window on a monitor's first pass), from the labelled
   predictions of the window's model;
3. checks the alert rules on the newest windows: a rule fires when its metric breaks its
   bound in that many windows in a row (to the log, the store and the webhooks), and is
   resolved when the newest window keeps to it. A rule on realized performance is not
   judged on a window of fewer than ``monitor.min_labels`` labels (``too_few_labels``):
   accuracy from a handful of labels is noise.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from prodml.config import AlertRule, MonitorSettings
from prodml.errors import ConfigError, did_you_mean, listing
from prodml.monitor.detectors import ADWIN, Detector, PageHinkley
from prodml.monitor.drift import Threshold, learned_thresholds
from prodml.monitor.feedback import ErrorStream, performance
from prodml.monitor.scoring import Job, Reference, Scored
from prodml.monitor.webhooks import deliver
from prodml.monitor.window import (
    METRICS,
    PREFIXED,
    Cutter,
    bounds,
    known_metric,
    realized,
)
from prodml.monitor.workers import Scorer
from prodml.store.label_columns import LabelColumns, LabelledLog
from prodml.store.log_columns import LogColumns, by_model
from prodml.store.log_format import microseconds
from prodml.store.monitoring import (
    Alert,
    ChangePoint,
    Monitoring,
    Score,
    Window,
    record,
)
from prodml.store.review import ReviewQueue
from prodml.store.runs import utc_now

if TYPE_CHECKING:
    from prodml.retrain.triggers import Triggered

logger = logging.getLogger("prodml.monitor")

#: The streaming detectors a pass runs over the error stream, at their defaults.
#: Page-Hinkley (alpha 1, threshold 100, twice river's 50): false alarms per million
#: predictions of a stable error rate 0.05 at 10% and 1.75 at 30% (50 gave 2.0 and 31),
#: a median delay of 330 predictions on a rise from 10% to 40%; ADWIN: at most 0.5 per
#: million at any rate, and sooner (see their docstrings in prodml.monitor.detectors).
DETECTORS: tuple[Callable[[], Detector], ...] = (PageHinkley, ADWIN)


@dataclass
class Pass:
    """What one pass of the monitor did."""

    endpoint: str
    windows: list[Window] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    fired: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    change_points: list[ChangePoint] = field(default_factory=list)
    updated: int = 0  # windows whose realized performance changed
    retrain: Triggered | None = None  # a retrain triggered or held (prodml.retrain.triggers)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (datetimes as ISO 8601 text)."""
        return {
            "endpoint": self.endpoint,
            "windows": [record(w) for w in self.windows],
            "scores": [record(s) for s in self.scores],
            "fired": [record(a) for a in self.fired],
            "resolved": [record(a) for a in self.resolved],
            "change_points": [record(c) for c in self.change_points],
            "updated": self.updated,
            "retrain": None if self.retrain is None else self.retrain.to_dict(),
        }


class Monitor:
    """Watches one endpoint's prediction log; see the module docstring."""

    def __init__(
        self,
        store: Monitoring,
        settings: MonitorSettings,
        reference: Callable[[str, int, str | None], Reference],
        *,
        detectors: Sequence[Callable[[], Detector]] = DETECTORS,
        now: Callable[[], datetime] = utc_now,
        positive_class: str | int | None = None,
        workers: int | None = None,
    ) -> None:
        """``positive_class``: the class whose ROC and PR AUC a window has
        (``data.positive_class``; without it, the second of the model's two classes);
        ``workers``: the processes that score windows while the log is read (see
        :mod:`prodml.monitor.workers`; default one a core, 1: none)."""
        for rule in settings.alerts:
            check_metric(rule.metric)
        self.store = store
        self.settings = settings
        self._reference = reference
        self._references: dict[tuple[str, int, str | None], Reference] = {}
        self._thresholds: dict[tuple[int, int], dict[str, Threshold]] = {}
        self.workers = workers
        self.detectors = detectors
        self.positive_class = positive_class
        self._streams: dict[str, ErrorStream] = {}
        self.now = now

    def run(self, endpoint: str, *, close: bool = False) -> Pass:
        """One pass over ``endpoint``'s log (see the module docstring); ``close``: score
        the open window as well, as a partial one. One pass at a time among the processes
        that share the store: a second waits, then finds what the first stored."""
        with self.store.database.exclusive("monitor"):
            return self._run(endpoint, close)

    def _run(self, endpoint: str, close: bool) -> Pass:
        done = Pass(endpoint)
        window = self.settings.window if isinstance(self.settings.window, int) else None
        size: int | float = window or self.settings.seconds or 0.0
        through = self.store.monitored_through(endpoint)
        stream, everything = self._error_stream(endpoint)
        # a stream read from its start, over a log read from its start: its labels are
        # matched to the log's rows as they are read
        whole = stream.mark == 0 == through and not self.store.has_shadow(endpoint)
        labels = LabelledLog() if whole else None
        cutter = Cutter(
            size,
            self.now(),
            close=close,
            covered=self.store.covered(endpoint),
            lateness=self.settings.lateness_seconds,
        )
        newest: dict[int, Window | None] = {}  # each version's newest window, once read
        begun: set[int] = set()  # the versions with a window cut in this pass
        read = self.store.log_columns(endpoint, after_id=through, labels=labels)
        backlog = ReviewQueue(self.store.database).backlog

        def stored(ready: list[tuple[_Cut, Scored]]) -> None:
            for cut, scored in ready:
                version = int(cut.job.rows.model_version[0])
                window, scores = self._store(endpoint, cut, scored, newest[version])
                newest[version] = window
                done.windows.append(window)
                done.scores.extend(scores)

        with contextlib.closing(Scorer[_Cut](self.workers)) as scorer:
            for rows, part, late in cutter.cut(read):
                version = int(rows.model_version[0])
                if version not in newest:
                    newest[version] = self.store.newest_window(endpoint, version)
                first = newest[version] is None and version not in begun
                begun.add(version)
                job = self._job(endpoint, rows, size, first)
                stored(scorer.put(job, _Cut(job, part, late, backlog(endpoint))))
            stored(scorer.rest())
        if cutter.through is not None and cutter.through != through:
            self.store.save_monitored_through(endpoint, cutter.through)
        received = None if labels is None else labels.columns(self.store.streams(endpoint))
        updated, done.change_points = self._feedback(
            endpoint, done.windows, stream, everything, received
        )
        done.updated = len(updated)
        changed = [w.id for w in done.windows] + updated
        if done.windows:  # as stored now, with the performance the feedback gave them
            now = {w.id: w for w in self.store.windows(endpoint, since=done.windows[0].id)}
            done.windows = [now[w.id] for w in done.windows]
        done.fired, done.resolved = self._alerts(endpoint, min(changed, default=None))
        return done

    # --- windows ---------------------------------------------------------------------------

    def _job(
        self,
        endpoint: str,
        rows: LogColumns,
        size: int | float,
        first: bool,
    ) -> Job:
        """What scoring the window of ``rows`` takes; ``first``: its version's first window
        (the one that gets training-serving skew)."""
        name, version, run = rows.model_name[0], int(rows.model_version[0]), rows.run_id[0]
        reference = self.reference(name, version, run)
        starts_at, ends_at = bounds(rows, size)
        few = len(rows) < self.settings.min_rows
        thresholds = None
        if reference.profile is not None and not few:
            columns = list(reference.distributions)
            thresholds = self._threshold_of(reference, name, version, len(rows), columns)
        return Job(
            rows,
            reference if first else reference.without_rows,
            self.settings,
            starts_at,
            ends_at,
            self.store.errors(endpoint, starts_at, ends_at),
            thresholds,
        )

    def _store(
        self,
        endpoint: str,
        cut: _Cut,
        scored: Scored,
        previous: Window | None,
    ) -> tuple[Window, list[Score]]:
        """Store one window scored; ``previous``: its version's window before it."""
        job, rows = cut.job, cut.job.rows
        metrics = dict(scored.measured)
        if previous is not None and metrics["mean_confidence"] is not None:
            before = previous.metrics.get("mean_confidence")
            if before is not None:
                metrics["confidence_shift"] = metrics["mean_confidence"] - before
        # until feedback
        metrics.update(labelled=0, labelled_share=0.0, concept_change=0, too_few_labels=1)
        # the review queue as this window was cut: what waits for people, and how long
        metrics.update(queue_size=cut.queue[0], queue_age_p95_seconds=cut.queue[1])
        few = len(rows) < self.settings.min_rows
        metrics.update(partial=int(cut.partial), too_few_rows=int(few), late_rows=cut.late)
        metrics.update(scored.judged)
        window = Window(
            0,
            endpoint,
            rows.model_name[0],
            int(rows.model_version[0]),
            job.starts_at,
            job.ends_at,
            int(rows.id[0]),
            int(rows.id[-1]),
            len(rows),
            metrics,
            rows.run_id[0],
        )
        return self.store.add_window(window, scored.scores)

    def _threshold_of(
        self, reference: Reference, name: str, version: int, rows: int, columns: list[str]
    ) -> Mapping[str, float | Threshold] | None:
        threshold = self.settings.drift.threshold
        if threshold is None:
            return None
        if threshold != "learned":
            return dict.fromkeys(columns, float(threshold))
        key = (id(reference), rows)  # references are kept for the monitor's life
        if key not in self._thresholds:
            if reference.held_out is None:
                raise ConfigError(
                    f"monitor.drift.threshold 'learned' needs the rows model {name}:{version} "
                    "was profiled on, and the project's data no longer matches its fit; set "
                    "a constant threshold, or register a new fit"
                )
            self._thresholds[key] = learned_thresholds(
                reference.held_out, rows, method=self.settings.drift.method, columns=columns
            )
        return self._thresholds[key]

    def reference(self, name: str, version: int, run: str | None = None) -> Reference:
        """The reference of model ``name:version`` fitted by ``run`` (loaded once)."""
        key = (name, version, run)
        if key not in self._references:
            self._references[key] = self._reference(name, version, run)
        return self._references[key]

    # --- feedback: realized performance and change points ---------------------------------

    def _error_stream(self, endpoint: str) -> tuple[ErrorStream, bool]:
        """The endpoint's error stream, and whether it is read from its start: this
        monitor's first pass over it carries on from where the last process's stopped,
        if it kept its stream."""
        stream = self._streams.get(endpoint)
        if stream is not None:
            return stream, False
        stream = self._streams[endpoint] = ErrorStream(self.detectors)
        saved = self.store.saved_stream(endpoint)
        return stream, saved is None or not stream.resume(saved)

    def _feedback(
        self,
        endpoint: str,
        new: Sequence[Window],
        stream: ErrorStream,
        everything: bool,
        received: LabelColumns | None = None,
    ) -> tuple[list[int], list[ChangePoint]]:
        """Feed the labels received since the last pass (``received``, when the pass has
        them already) to the endpoint's error ``stream`` (``everything``: read from its
        start), store and log the change points it finds, and recompute realized
        performance of the windows that changed: new ones, and those that got labels or
        change points. Returns (the ids of the windows updated, new change points)."""
        mark = stream.mark
        if received is None:
            received = self.store.labelled_columns(endpoint, feedback_after=stream.mark)
        if not stream.extends(received):  # a label for a prediction already read
            stream.restart()
            everything, received = True, self.store.labelled_columns(endpoint)
        task = (
            self.reference(
                received.model_name[0], int(received.model_version[0]), received.run_id[0]
            ).task
            if len(received)
            else None
        )
        points = self.store.add_change_points(
            stream.feed(endpoint, received, detect=task != "regression")
        )
        for point in points:
            logger.warning(
                "%s: the error rate changed (%s): it began at prediction %d (%s), found at %d",
                endpoint,
                point.detector,
                point.started_id,
                point.started_at.isoformat(),
                point.detected_id,
            )
        if everything:
            changed = self.store.windows(endpoint)
        else:  # the new windows, and the stored ones that got labels or change points
            changed = self._touched(endpoint, new, received)
        updated = self._performance(endpoint, changed, received if everything else None)
        if everything or stream.mark != mark:  # once the windows it touched are stored
            self.store.save_stream(endpoint, stream.saved())
        return updated, points

    def _touched(
        self, endpoint: str, new: Sequence[Window], received: LabelColumns
    ) -> list[Window]:
        """The windows ``new``, and the stored ones that hold a prediction of ``received``
        (of their model), by id: those whose labels changed, and those where this pass's
        change points were found (each at a prediction received)."""
        found = {w.id: w for w in new}
        touched = {model: received.id[at] for model, at in by_model(received)}
        if touched:
            span = (
                min(int(ids[0]) for ids in touched.values()),
                max(int(ids[-1]) for ids in touched.values()),
            )
            for window in self.store.windows(endpoint, covering=span):
                ids = touched.get(window.model, np.empty(0, dtype=np.int64))
                if window.id not in found and _holds(ids, window.first_id, window.last_id):
                    found[window.id] = window
        return sorted(found.values(), key=lambda w: w.id)

    def _performance(
        self, endpoint: str, windows: Sequence[Window], labelled: LabelColumns | None
    ) -> list[int]:
        """Store the realized performance of ``windows`` from their labelled predictions
        (``labelled``: all of the endpoint's, when already read): those of each window's
        model in its id range. Returns the ids of the windows updated."""
        if not windows:
            return []
        span = (min(w.first_id for w in windows), max(w.last_id for w in windows))
        if labelled is None:
            labelled = self.store.labelled_columns(endpoint, first_id=span[0], last_id=span[1])
        served = {model: labelled[at] for model, at in by_model(labelled)}  # in log order
        # a change counts in the window where it was found, not in the one it began in (an
        # alert on concept_change fires when the change is known, never before it), and in
        # the window of the model that served the prediction it was found at
        found_at = [p.detected_id for p in self.store.change_points(endpoint, found_in=span)]
        updated = []
        for window in windows:
            own = served.get(window.model, labelled[0:0])
            start = int(np.searchsorted(own.id, window.first_id, side="left"))
            end = int(np.searchsorted(own.id, window.last_id, side="right"))
            rows = own[start:end]
            if self.settings.seconds is not None:  # its time slot's: others' ids interleave
                rows = rows[np.flatnonzero(_within(rows.at_us, window))]
            task = self.reference(window.model_name, window.model_version, window.run_id).task
            found = performance(rows, window.rows, task, self.positive_class)
            found["too_few_labels"] = int(len(rows) < self.settings.min_labels)
            found["concept_change"] = int(np.isin(found_at, rows.id).sum())
            if any(window.metrics.get(key) != value for key, value in found.items()):
                self.store.update_metrics(window.id, {**window.metrics, **found})
                updated.append(window.id)
        return updated

    # --- alerts ----------------------------------------------------------------------------

    def _alerts(self, endpoint: str, first: int | None) -> tuple[list[Alert], list[Alert]]:
        """Check the rules at each window from window ``first`` (the oldest new, or whose
        realized performance feedback changed) to the newest, in the order they were
        stored (at the newest alone when none changed), so that an alert names the window
        where its rule first broke, even when one pass stores several windows or feedback
        reaches old ones. Windows a rule's newest alert already covers (up to the one that
        resolved it) are not checked for it again: history is never fired twice. A rule on
        realized performance is not judged on a window of fewer than ``monitor.min_labels``
        labels: it neither fires nor is resolved there."""
        if not self.settings.alerts:
            return [], []
        checked = self.store.windows(endpoint, since=first) if first is not None else []
        # the rules look back at most for_ windows from the first one checked
        reach = max(max(len(checked), 1) + rule.for_ - 1 for rule in self.settings.alerts)
        windows = self.store.windows(endpoint, newest=reach)
        if not windows:  # none stored yet: nothing to judge
            return [], []
        newest: dict[str, Alert] = {}
        for alert in self.store.alerts(endpoint):  # newest first
            newest.setdefault(alert.rule, alert)
        fired, resolved = [], []
        at = range(len(windows) - max(len(checked), 1), len(windows))
        for rule in self.settings.alerts:
            last = newest.get(rule.label)
            open_alert = last if last is not None and last.resolved_at is None else None
            covered = 0 if last is None else max(last.window_id, last.resolved_window_id or 0)
            for k in at:
                if windows[k].id <= covered or not self._judged(rule, windows[k]):
                    continue
                recent = windows[max(0, k + 1 - rule.for_) : k + 1]
                breaking = len(recent) == rule.for_ and all(
                    self._judged(rule, w) and _breaks(rule, w.metrics) for w in recent
                )
                if breaking and open_alert is None:
                    open_alert = self._fire(endpoint, rule, windows[k])
                    fired.append(open_alert)
                elif open_alert is not None and not _breaks(rule, windows[k].metrics):
                    self.store.resolve(open_alert.id, windows[k].id)
                    logger.info("%s: alert %s resolved", endpoint, rule.label)
                    resolved.append(open_alert)
                    open_alert = None
        return fired, resolved

    def _judged(self, rule: AlertRule, window: Window) -> bool:
        """Whether ``rule`` is judged on ``window``: not a rule on realized performance
        where fewer than ``monitor.min_labels`` of its predictions have labels."""
        labels = window.metrics.get("labelled", 0)
        return not realized(rule.metric) or labels >= self.settings.min_labels

    def _fire(self, endpoint: str, rule: AlertRule, window: Window) -> Alert:
        """Fire ``rule`` on ``window``."""
        value = window.metrics.get(rule.metric)
        return self.alert(endpoint, rule.label, rule.metric, value, window.id)

    def alert(
        self, endpoint: str, label: str, metric: str, value: float | None, window_id: int
    ) -> Alert:
        """Fire the alert ``label`` on window ``window_id``: to the log, the store and
        every webhook (a rule's, or another part of the monitor's, such as a retrain's)."""
        alert = self.store.fire(endpoint, label, metric, value, window_id)
        logger.warning("%s: alert %s fired (value %.4g)", endpoint, label, value)
        if self.settings.webhooks:
            deliveries = deliver(list(self.settings.webhooks), _payload(alert))
            self.store.delivered(alert.id, [d.to_dict() for d in deliveries])
        return alert


def check_metric(name: str) -> None:
    """Raise a ConfigError unless a window can have a metric called ``name``."""
    if not known_metric(name):
        allowed = [*METRICS, *(f"{p}.<name>" for p in PREFIXED)]
        raise ConfigError(
            f"monitor.alerts metric '{name}' is not a window metric; choose one of: "
            f"{listing(allowed)}{did_you_mean(name, allowed)}"
        )


def _within(times: np.ndarray, window: Window) -> np.ndarray:
    """Whether each of ``times`` (microseconds) is in the time slot of ``window``."""
    return (times >= microseconds(window.starts_at)) & (times < microseconds(window.ends_at))


def _holds(ids: np.ndarray, first: int, last: int) -> bool:
    """Whether one of ``ids`` (sorted) is from ``first`` to ``last``."""
    at = int(np.searchsorted(ids, first, side="left"))
    return at < ids.size and int(ids[at]) <= last


def _breaks(rule: AlertRule, metrics: dict[str, Any]) -> bool:
    value = metrics.get(rule.metric)
    if value is None:
        return False
    if rule.above is not None:
        return bool(value > rule.above)
    assert rule.below is not None
    return bool(value < rule.below)


class _Cut(NamedTuple):
    """A window cut, as the monitor stores it once scored: its job, whether it is
    partial, its late rows, and the review queue (size, age) when it was cut."""

    job: Job
    partial: bool
    late: int
    queue: tuple[int, float | None]


def _payload(alert: Alert) -> dict[str, Any]:
    return {"event": "alert", **record(alert)}
