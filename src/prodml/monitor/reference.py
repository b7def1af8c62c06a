"""The reference of a registered model version: its schema, the profile saved with its
fit, and, while the project's data is still the data it was fitted on, the training rows
(for training-serving skew) and the profiled held-out rows (for learned thresholds)."""

from __future__ import annotations

import numpy as np

from prodml.config import Task
from prodml.data.dataset import Dataset
from prodml.data.profile import Profile
from prodml.data.schema import Schema
from prodml.data.split import TRAIN
from prodml.errors import NotFoundError
from prodml.monitor.scoring import Reference
from prodml.store.runs import Run, Runs


def load_reference(runs: Runs, run: Run, model: str, data: Dataset | None) -> Reference:
    """The :class:`Reference` of ``run``, the fit behind ``model`` (``name:version``, for
    messages); ``data``: the project's data, if it can be read."""
    if run.input_schema is None:
        raise NotFoundError(
            f"model {model} (run {run.id}) has no input schema to monitor against; fit and "
            "register it again"
        )
    names = {artifact.name for artifact in run.artifacts}
    profile = (
        Profile.from_dict(runs.artifacts.load(run.artifact("profile")))
        if "profile" in names
        else None
    )
    schema = Schema.from_dict(run.input_schema)
    features = [c.name for c in schema.columns]
    task = data.task if data is not None else _task(profile)
    if data is None or data.fingerprint != run.data_fingerprint or "split" not in names:
        return Reference(task, schema, profile, None, None)
    assignment = np.asarray(runs.artifacts.load(run.artifact("split")))
    frame = data.frame[features]
    return Reference(
        data.task,
        schema,
        profile,
        frame.iloc[np.flatnonzero(assignment == TRAIN)].reset_index(drop=True),
        frame.iloc[np.flatnonzero(assignment != TRAIN)].reset_index(drop=True),
    )


def _task(profile: Profile | None) -> Task:
    """Regression when the profiled outputs are numbers, else classification."""
    outputs = profile.outputs if profile is not None else None
    predicted = outputs.predicted if outputs is not None else None
    return (
        "regression" if predicted is not None and predicted.kind == "numeric" else "classification"
    )
