"""Tracked fitting: fit a model on the training split, score every split, keep the artifact.

The artifact is written whole and registered in the same transaction that marks the
run finished, so a fit that fails, is interrupted or is killed never leaves an artifact
registered for its run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prodml.data import SPLIT_NAMES
from prodml.data.dataset import Dataset
from prodml.data.profile import Profile, ProfileBuilder
from prodml.data.schema import infer_schema
from prodml.data.split import TRAIN, Split
from prodml.errors import ModelError, shortened
from prodml.evaluate.metrics import metrics
from prodml.store.runs import Run
from prodml.tracking.resources import Usage, measure
from prodml.tracking.workspace import Workspace


def fit_into(
    workspace: Workspace,
    run_id: str,
    model: Any,
    data: Dataset,
    split: Split,
    extra: dict[str, float] | None = None,
    searched: Usage | None = None,
    *,
    fit_params: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Run:
    """Fit ``model`` for the running run ``run_id``, score it and close the run.

    After a search (``searched``: what its candidates took), the run's time is the whole
    search's, this refit's included, and the refit's own is its metric
    ``search.refit_seconds``. ``fit_params`` go to ``model.fit`` (a retrained model's
    ``sample_weight``); ``params`` are recorded beside the model's (its lineage).
    """
    recorded = {**parameters(model), **(params or {})}
    workspace.runs.record(run_id, split=split.to_record(), params=recorded)
    train = data.rows(split.rows("train"))
    with measure() as usage:
        fit(model, train, fit_params)
    scores = {**score_splits(model, data, split), **(extra or {})}
    if searched is not None:
        scores["search.refit_seconds"] = usage.wall_seconds
        usage.wall_seconds += searched.wall_seconds
        usage.cpu_seconds += searched.cpu_seconds
        usage.peak_memory_bytes = max(usage.peak_memory_bytes, searched.peak_memory_bytes)
    held_out = data.rows(np.flatnonzero(split.assignment != TRAIN))
    saved = [
        workspace.runs.artifacts.save(run_id, "model", model),
        workspace.runs.artifacts.save(run_id, "split", split.assignment),
        workspace.runs.artifacts.save(run_id, "profile", reference(model, held_out).to_dict()),
    ]
    saved.append(workspace.runs.artifacts.save(run_id, "classes", classes(model)))
    measured = calibration(model, data.rows(split.rows("dev")))
    if measured is not None:
        saved.append(workspace.runs.artifacts.save(run_id, "calibration", measured))
    return workspace.runs.finish(
        run_id,
        artifacts=tuple(saved),
        metrics=scores,
        input_schema=infer_schema(train.frame, train.features).to_dict(),
        fit_seconds=usage.wall_seconds,
        cpu_seconds=usage.cpu_seconds,
        peak_memory_bytes=usage.peak_memory_bytes,
    )


def reference(model: Any, rows: Dataset) -> Profile:
    """The reference profile monitoring compares production with: the features of the
    held-out rows (dev and test, which the model did not learn from) and the model's
    outputs on them (its predictions and, for a classifier, the top probability)."""
    builder = ProfileBuilder(rows.features)
    confidence = None
    if rows.task == "classification" and hasattr(model, "predict_proba"):
        confidence = np.max(model.predict_proba(rows.X), axis=1)
    builder.update(rows.X, predicted=np.asarray(model.predict(rows.X)), confidence=confidence)
    return builder.finish()


def calibration(model: Any, rows: Dataset) -> dict[str, list[Any]] | None:
    """A classifier's confidence (its top probability) on the dev rows, and whether each
    answer was right: what a deferral threshold for a target error is chosen on (see
    :mod:`prodml.automation.threshold`); None for a regressor, a model without
    probabilities, or no dev rows. Test rows stay out, so the threshold's error can be
    checked on them."""
    known = getattr(model, "classes_", None)
    probabilistic = hasattr(model, "predict_proba") and known is not None
    if rows.task != "classification" or not probabilistic or len(rows.y) == 0:
        return None
    probabilities = np.asarray(model.predict_proba(rows.X))
    classes = np.asarray(known)
    right = classes[probabilities.argmax(axis=1)] == np.asarray(rows.y)
    return {"confidence": probabilities.max(axis=1).tolist(), "correct": right.tolist()}


def classes(model: Any) -> dict[str, list[Any] | None]:
    """The model's classes in its order (None for a regressor): what the fallback rule
    answers with in its place when it cannot be loaded (see :mod:`prodml.serve.fallback`).

    >>> from sklearn.dummy import DummyClassifier
    >>> classes(DummyClassifier().fit([[0], [1]], ["no", "yes"]))
    {'classes': ['no', 'yes']}
    """
    known = getattr(model, "classes_", None)
    return {"classes": None if known is None else np.asarray(known).tolist()}


def fit(model: Any, data: Dataset, fit_params: dict[str, Any] | None = None) -> None:
    """``model.fit`` on a data set, with a failure explained in one line."""
    try:
        model.fit(data.X, data.y, **(fit_params or {}))
    except (ValueError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"fitting {type(model).__name__} failed: {reason}; check model.factory and "
            "model.params, and that the features suit the model (text columns are "
            "categories: use a model that takes them, or encode them in a pipeline)"
        ) from exc


def score_splits(model: Any, data: Dataset, split: Split) -> dict[str, float]:
    """Metrics on every non-empty split, named ``train.accuracy``, ``test.f1[1]``..."""
    scores: dict[str, float] = {}
    for name in SPLIT_NAMES:
        rows = split.rows(name)
        if len(rows) == 0:
            continue
        part = data.rows(rows)
        values = metrics(data.task, part.y, model.predict(part.X), data.labels)
        scores.update({f"{name}.{metric}": value for metric, value in values.items()})
    return scores


def parameters(model: Any) -> dict[str, Any]:
    """Every parameter of the model (``get_params(deep=True)``), sorted by name, each
    made :func:`recordable`.

    >>> from sklearn.preprocessing import OneHotEncoder
    >>> parameters(OneHotEncoder())["dtype"]
    'numpy.float64'
    """
    params = model.get_params(deep=True) if hasattr(model, "get_params") else {}
    return {name: recordable(value) for name, value in sorted(params.items())}


def recordable(value: Any) -> Any:
    """A parameter's value as a run can record it in JSON.

    Any estimator's parameters may hold classes (``dtype=np.float64``), functions
    (``func=np.log1p``) or arrays: a class or function is recorded by its dotted name,
    an array as a list, and anything else JSON cannot hold by its (shortened) repr. A
    nested estimator is kept: the store records it by its class name.

    >>> import numpy as np
    >>> recordable({"dtype": np.float64, "func": np.log1p, "edges": np.array([1, 2])})
    {'dtype': 'numpy.float64', 'func': 'numpy.log1p', 'edges': [1, 2]}
    """
    if isinstance(value, dict):
        return {str(k): recordable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [recordable(v) for v in value]
    if isinstance(value, np.ndarray):
        return recordable(value.tolist())
    if isinstance(value, np.generic):
        return recordable(value.item())
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if hasattr(value, "get_params") and not isinstance(value, type):
        return value
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if (isinstance(value, type) or callable(value)) and module and name:
        return f"{module}.{name}"
    return shortened(repr(value), 200)
