"""Hyperparameter search: every candidate a child run scored by cross-validation.

The candidates come from ``search:`` in the project file (a grid, or a number of random
draws); each is cross-validated on the training split only, so dev and test stay
untouched; the best is refit on the whole training split and kept as the search's own
run, with its artifact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.base import clone
from sklearn.metrics import (
    f1_score,
    get_scorer,
    get_scorer_names,
    make_scorer,
    precision_score,
    recall_score,
)
from sklearn.model_selection import (
    KFold,
    ParameterGrid,
    ParameterSampler,
    StratifiedKFold,
    cross_validate,
)

from prodml.config import Distribution, ExecutorSettings, ModelSpec, SearchSettings
from prodml.data.dataset import Dataset
from prodml.data.split import Split
from prodml.errors import ModelError, did_you_mean, listing
from prodml.executor import ONE_PROCESS, running
from prodml.store.runs import Run
from prodml.tracking.fit import fit_into, parameters
from prodml.tracking.resources import Usage, measure
from prodml.tracking.workspace import Workspace


@dataclass(frozen=True)
class Candidate:
    """One point of the search and how it scored."""

    params: dict[str, Any]
    run_id: str
    score: float | None  # mean cross-validated score; None when the candidate failed


@dataclass(frozen=True)
class _Outcome:
    """A candidate's cross-validation, as a worker returns it."""

    scores: np.ndarray  # one per fold; empty when the candidate failed
    failure: str | None
    usage: Usage


#: Called after each candidate: (candidates done, candidates in all, the candidate).
OnCandidate = Callable[[int, int, Candidate], None]


def search(
    workspace: Workspace,
    model: Any,
    spec: ModelSpec,
    data: Dataset,
    split: Split,
    settings: SearchSettings,
    on_candidate: OnCandidate | None = None,
    executor: ExecutorSettings = ONE_PROCESS,
) -> Run:
    """Run the search and return the finished run of the best candidate, refit.

    Candidates are cross-validated in parallel where ``executor`` says (one process by
    default); their child runs are recorded here, in the candidates' order, as each ends.
    """
    points = candidates(settings)
    _check_names(model, settings)
    name, scorer = scoring(settings.scoring, data)
    train = data.rows(split.rows("train"))
    folds = _folds(settings, data)
    results: list[Candidate] = []
    shared = (model, train, folds, scorer)
    with workspace.tracked("search", data, spec) as parent_id:
        with measure() as searched, running(executor) as run:  # the run's time is the search's
            for params, outcome in zip(points, run(_score, points, shared), strict=True):
                try:
                    with workspace.tracked("candidate", data, spec, parent_id=parent_id) as child:
                        workspace.runs.record(
                            child,
                            params=parameters(clone(model).set_params(**params)),
                            split={"method": "cv", "folds": settings.cv},
                        )
                        if outcome.failure is not None:
                            raise ModelError(outcome.failure)
                        workspace.runs.finish(
                            child,
                            metrics={
                                f"cv.{name}.mean": outcome.scores.mean(),
                                f"cv.{name}.std": outcome.scores.std(),
                            },
                            fit_seconds=outcome.usage.wall_seconds,
                            cpu_seconds=outcome.usage.cpu_seconds,
                            peak_memory_bytes=outcome.usage.peak_memory_bytes,
                        )
                    results.append(Candidate(params, child, float(outcome.scores.mean())))
                except ModelError:
                    results.append(Candidate(params, child, None))
                if on_candidate is not None:
                    on_candidate(len(results), len(points), results[-1])
        scored = [c for c in results if c.score is not None and np.isfinite(c.score)]
        if not scored:
            raise ModelError(
                f"every one of the {len(results)} search candidates failed; "
                "`prodml runs show` on a candidate run says why"
            )
        best = max(scored, key=lambda c: c.score or 0.0)
        workspace.runs.record(
            parent_id,
            model_spec={
                **spec.model_dump(mode="json"),
                "search": {
                    **settings.model_dump(mode="json"),
                    "scoring": name,
                    "best_params": best.params,
                    "best_run": best.run_id,
                },
            },
        )
        return fit_into(
            workspace,
            parent_id,
            clone(model).set_params(**best.params),
            data,
            split,
            extra={f"cv.{name}.mean": best.score or 0.0, "search.candidates": float(len(results))},
            searched=searched,
        )


def candidates(settings: SearchSettings) -> list[dict[str, Any]]:
    """The parameter combinations to try, in a fixed order for a given seed."""
    if settings.method == "grid":
        grid: Iterable[dict[str, Any]] = ParameterGrid(
            {k: list(v) for k, v in settings.params.items() if isinstance(v, list)}
        )
        return [dict(p) for p in grid]
    space = {
        k: _distribution(v) if isinstance(v, Distribution) else v
        for k, v in settings.params.items()
    }
    sampler = ParameterSampler(space, n_iter=settings.n_iter, random_state=settings.seed)
    return [{k: _plain(v) for k, v in p.items()} for p in sampler]


def scoring(configured: str | None, data: Dataset) -> tuple[str, Any]:
    """The score to maximise: a scikit-learn scorer name, or F1 of the positive class.

    ``f1``, ``precision`` and ``recall`` are taken for the configured positive class, so
    they work for labels such as ``malignant`` too.
    """
    if configured in _BINARY and data.positive_class is not None:
        scorer = make_scorer(_BINARY[configured], pos_label=data.positive_class, zero_division=0)
        return f"{configured}[{data.positive_class}]", scorer
    if configured is not None:
        try:
            return configured, get_scorer(configured)
        except ValueError:
            names = sorted(get_scorer_names())
            raise ModelError(
                f"search.scoring '{configured}' is not a scikit-learn scorer; e.g. "
                f"accuracy, f1_macro, roc_auc, neg_root_mean_squared_error"
                f"{did_you_mean(configured, names)}"
            ) from None
    if data.task == "regression":
        return "neg_root_mean_squared_error", get_scorer("neg_root_mean_squared_error")
    if data.positive_class is not None:
        scorer = make_scorer(f1_score, pos_label=data.positive_class, zero_division=0)
        return f"f1[{data.positive_class}]", scorer
    return "f1_macro", get_scorer("f1_macro")


_BINARY = {"f1": f1_score, "precision": precision_score, "recall": recall_score}


def _folds(settings: SearchSettings, data: Dataset) -> KFold | StratifiedKFold:
    if data.task == "classification":
        return StratifiedKFold(settings.cv, shuffle=True, random_state=settings.seed)
    return KFold(settings.cv, shuffle=True, random_state=settings.seed)


def _score(shared: tuple[Any, Dataset, Any, Any], params: dict[str, Any]) -> _Outcome:
    """Cross-validate one candidate; run in a worker, so failures are returned, not raised."""
    model, train, folds, scorer = shared
    with measure() as usage:
        try:
            scores = _cross_validate(clone(model).set_params(**params), train, folds, scorer)
        except ModelError as exc:
            return _Outcome(np.empty(0), str(exc), usage)
    return _Outcome(scores, None, usage)


def _cross_validate(model: Any, train: Dataset, folds: Any, scorer: Any) -> np.ndarray:
    try:
        result = cross_validate(
            model, train.X, train.y, cv=folds, scoring=scorer, error_score="raise"
        )
    except (ValueError, TypeError) as exc:
        raise ModelError(f"candidate failed: {str(exc).strip().splitlines()[0]}") from exc
    return np.asarray(result["test_score"], dtype=float)


def _check_names(model: Any, settings: SearchSettings) -> None:
    known = sorted(model.get_params(deep=True))
    for name in settings.params:
        if name not in known:
            raise ModelError(
                f"search.params '{name}' is not a parameter of the model; its parameters "
                f"are: {listing(known, limit=20)}{did_you_mean(name, known)}"
            )


def _distribution(d: Distribution) -> Any:
    if d.dist == "uniform":
        return stats.uniform(d.low, d.high - d.low)
    if d.dist == "loguniform":
        return stats.loguniform(d.low, d.high)
    return stats.randint(int(d.low), int(d.high))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
