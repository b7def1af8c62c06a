"""One window scored from its rows alone: its software, input and output metrics, and the
drift of its inputs and outputs against its model's reference. Nothing here reads or
writes the store, so that windows can be scored in other processes while the log is
still read (:mod:`prodml.monitor.workers`); the monitor adds what the store knows (errors,
the review queue, the window before) and stores them in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from prodml.config import MonitorSettings, Task
from prodml.data.profile import Profile
from prodml.data.schema import Schema
from prodml.monitor.drift import (
    Distribution,
    DriftReport,
    Threshold,
    distributions,
    drift_report,
)
from prodml.monitor.window import inputs_frame, predicted, window_metrics
from prodml.store.log_columns import LogColumns
from prodml.store.monitoring import Score

#: Drift score of the predicted classes (or values) and of the confidence, in ``scores``.
PREDICTED, CONFIDENCE = "(predicted)", "(confidence)"


@dataclass(frozen=True, eq=False)
class Reference:
    """What one model version's windows are compared with."""

    task: Task
    schema: Schema
    profile: Profile | None  # the held-out rows' profile saved with the fit
    training: pd.DataFrame | None  # the training rows' features: skew, first window only
    held_out: pd.DataFrame | None  # the profiled rows' features: learned thresholds

    @cached_property
    def distributions(self) -> dict[str, Distribution]:
        """The profile's distribution of each feature it has (none without a profile)."""
        if self.profile is None:
            return {}
        columns = self.profile.columns
        return {
            c.name: Distribution.from_profile(columns[c.name])
            for c in self.schema.columns
            if c.name in columns
        }

    @cached_property
    def without_rows(self) -> Reference:
        """This reference without its training and held-out rows: what a window other than
        its version's first needs, and a smaller thing to send to another process (made
        once a reference)."""
        return replace(self, training=None, held_out=None)


@dataclass(frozen=True, eq=False)
class Job:
    """A window to score: its ``rows`` (all of one model), that model's ``reference``
    (with its training rows for its version's first window: skew), the errors the log
    has in its span, and the drift ``thresholds`` of its columns, if any."""

    rows: LogColumns
    reference: Reference
    settings: MonitorSettings
    starts_at: datetime
    ends_at: datetime
    errors: int
    thresholds: Mapping[str, float | Threshold] | None


@dataclass(frozen=True)
class Scored:
    """A window's metrics (``measured``: its software, input and output metrics; ``judged``:
    its drift and skew, which come after what the monitor adds) and drift scores."""

    measured: dict[str, Any]
    judged: dict[str, Any]
    scores: list[Score]


def score(job: Job) -> Scored:
    """Score the window of ``job`` (a window of fewer than ``monitor.min_rows`` rows gets
    no drift, and no skew)."""
    rows, reference, settings = job.rows, job.reference, job.settings
    frame = inputs_frame(rows, reference.schema)
    measured = window_metrics(
        rows,
        frame,
        reference.schema,
        starts_at=job.starts_at,
        ends_at=job.ends_at,
        errors=job.errors,
    )
    judged: dict[str, Any] = {}
    scores: list[Score] = []
    if len(rows) < settings.min_rows:
        return Scored(measured, judged, scores)
    if reference.profile is not None:
        report = _drift(job, frame)
        scores.extend(_scores("drift", report))
        judged["drift_share"] = report.share
        judged["dataset_drift"] = float(report.drifted)
        judged.update({f"drift.{s.column}": s.score for s in report.scores.values()})
        outputs = _output_drift(settings, reference.profile, rows)
        if outputs is not None:
            scores.extend(_scores("prediction", outputs))
            for s in outputs.scores.values():
                key = "prediction_drift" if s.column == PREDICTED else "confidence_drift"
                judged[key] = s.score
    if reference.training is not None:
        skew = drift_report(
            distributions(reference.training),
            distributions(frame),
            method=settings.drift.method,
            correction=settings.drift.correction,
            drift_share=settings.drift.share,
        )
        scores.extend(_scores("skew", skew))
        judged.update({f"skew.{s.column}": s.score for s in skew.scores.values()})
    return Scored(measured, judged, scores)


def _drift(job: Job, frame: pd.DataFrame) -> DriftReport:
    reference, drift = job.reference, job.settings.drift
    return drift_report(
        reference.distributions,
        {c: Distribution.from_series(frame[c]) for c in reference.distributions},
        method=drift.method,
        thresholds=job.thresholds,
        correction=drift.correction,
        drift_share=drift.share,
    )


def _output_drift(
    settings: MonitorSettings, profile: Profile, rows: LogColumns
) -> DriftReport | None:
    reference: dict[str, Distribution] = {}
    current: dict[str, Distribution] = {}
    outputs = profile.outputs
    labels = predicted(rows)
    if outputs is not None and outputs.predicted is not None and labels.notna().any():
        reference[PREDICTED] = Distribution.from_profile(outputs.predicted)
        current[PREDICTED] = Distribution.from_series(
            pd.to_numeric(labels, errors="coerce")
            if rows.valued[0]
            else labels.dropna().astype(str)
        )
    confidence = rows.confidence[~np.isnan(rows.confidence)]
    if outputs is not None and outputs.confidence is not None and confidence.size:
        reference[CONFIDENCE] = Distribution.from_profile(outputs.confidence)
        current[CONFIDENCE] = Distribution.from_series(pd.Series(confidence, dtype=float))
    if not reference:  # the fit saved no outputs to compare with
        return None
    return drift_report(
        reference,
        current,
        method=settings.drift.method,
        correction=settings.drift.correction,
    )


def _scores(kind: str, report: DriftReport) -> list[Score]:
    """The report's scores, to be stored with a window (which gives them its id)."""
    return [
        Score(
            0,
            kind,
            s.column,
            s.method,
            s.score,
            s.p_value if s.p_adjusted is None else s.p_adjusted,
            s.threshold,
            s.threshold_on,
            s.drifted,
        )
        for s in report.scores.values()
    ]
