"""A retrained candidate: fitted as a tracked run, audited beside the primary, registered,
and deployed beside the primary (a shadow; never the primary itself).

What the candidate learns from and what it is judged on (see :func:`retrain`):

- the newest ``retrain.holdout`` share (20% by default) of the labelled history, by time,
  is held out: the candidate's run calls it its *dev* split and is evaluated on it (the
  world as it is now), beside the primary's scores on the same rows;
- the project's original *test* split is held out too (neither model learned from it),
  and the candidate is evaluated on it beside the primary: the audit the registry's gate
  reads is this one, the same standard as every fit's;
- the rest (the data's train and dev rows, and the older labelled history) is the
  training set of :func:`~prodml.retrain.training.build`, by the strategy.

The candidate passes when its audit passes on the test split and, where the newest
labelled rows could be evaluated, on them too. It is registered either way (a failed one
says why); a passing one is deployed beside the endpoint's primary as a ``shadow``, never
as the primary: who moves it on is ``retrain.promote``'s (see
:mod:`prodml.retrain.promotion`).
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from prodml.config import Settings, Strategy
from prodml.data.dataset import Dataset, prepare
from prodml.data.split import DEV, TEST, TRAIN, Split
from prodml.errors import ConfigError, DeploymentError, ProdmlError
from prodml.evaluate.metrics import metrics
from prodml.model.factory import build as build_model
from prodml.retrain.promotion import ACTOR
from prodml.retrain.spans import duration, rows_or_duration
from prodml.retrain.training import (
    LOGGED_AT,
    RECEIVED_AT,
    build,
    labelled_history,
    labels_like,
    time_column,
)
from prodml.store.evaluations import Evaluation, Evaluations
from prodml.store.runs import utc_now
from prodml.tracking.evaluation import Subject, evaluate_run
from prodml.tracking.fit import fit_into

if TYPE_CHECKING:
    from prodml.project import Project
    from prodml.registry import ModelVersion

#: The names of the two data sets a candidate is judged on.
NEWEST, TEST_SPLIT = "newest labelled", "original test split"


@dataclass(frozen=True)
class Scores:
    """The candidate and the primary on one data set: metrics of the same names, and the
    candidate's audit there (None: not evaluated, ``reasons`` say why)."""

    data: str
    rows: int
    candidate: dict[str, float]
    primary: dict[str, float] | None
    passed: bool | None
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Retrained:
    """What :func:`retrain` did: the run, the version registered, the verdict, where the
    candidate went, and the training set's lineage."""

    run_id: str
    model: str
    version: int | None
    strategy: Strategy
    training_set: dict[str, Any]  # cutoff, first, last, rows (from data, from log), fingerprint
    trigger: dict[str, Any] | None  # None: a person ran it
    passed: bool
    reasons: list[str]  # why it failed its audit, or was not deployed
    shadow: str | None  # the endpoint it was deployed on (as mode), else None
    mode: str | None = None  # shadow when deployed (see prodml.retrain.promotion)
    primary: str | None = None  # the endpoint's primary it was compared with (name:version)
    scores: list[Scores] = field(default_factory=list)

    @property
    def ref(self) -> str | None:
        return None if self.version is None else f"{self.model}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ref": self.ref}


def retrain(
    project: Project,
    name: str | None = None,
    *,
    strategy: Strategy | None = None,
    since: datetime | None = None,
    window: timedelta | int | str | None = None,
    half_life: timedelta | str | None = None,
    trigger: dict[str, Any] | None = None,
) -> Retrained:
    """Retrain model ``name`` (the project's by default; its endpoint has the same name)
    on the project's data and its labelled history up to now; see the module's text."""
    settings = project.settings
    options = settings.retrain
    name = name or project.name
    strategy = strategy or options.strategy
    model = build_model(settings.model, project.path)
    fit_params = _weighting(model, settings) if strategy == "weighted" else {}
    primary = _primary(project, name)
    if primary is None:  # its version 1 would open the endpoint: never straight to primary
        raise DeploymentError(
            f"endpoint {name} serves nothing yet, so there is no primary to retrain beside "
            f"and no prediction log to learn from; fit, evaluate and register a first version "
            f"(prodml fit; prodml evaluate; prodml models register), then retrain"
        )
    cutoff = utc_now()
    data = project.load_data("retraining")
    split = project.split(data)
    history = labelled_history(project, name, cutoff=cutoff)
    held = math.ceil(options.holdout * len(history)) if len(history) >= 2 else 0
    learned, newest = history.iloc[: len(history) - held], history.iloc[len(history) - held :]
    built = build(
        data.frame.iloc[split.assignment != TEST],
        learned,
        settings,
        strategy,
        cutoff=cutoff,
        since=since,
        window=rows_or_duration(window, "--window"),
        half_life=duration(half_life, "--half-life"),
    )
    if built.rows == 0:
        raise ConfigError(
            f"retraining {name} with strategy {strategy} left no rows to learn from "
            f"(--since {since}, --window or retrain.window {window or options.window}, "
            f"before {cutoff:%Y-%m-%d %H:%M} UTC); widen them"
        )
    whole, assignment = _whole(built.frame, newest, data, split, settings)
    dataset = prepare(
        whole, settings.data, settings.task, f"{data.source} + {name}'s labelled log", "retraining"
    )
    lineage = _lineage(
        built.summary(),
        trigger,
        name,
        since,
        (window or options.window) if strategy == "window" else None,
        (half_life or options.half_life) if strategy == "weighted" else None,
        held,
    )
    workspace = project._workspace()
    with workspace.tracked("fit", dataset, settings.model) as run_id:
        fitted = Split("retrain", assignment, {"holdout": options.holdout}, pd.DataFrame(), ())
        if fit_params:
            fit_params = {key: built.weights for key in fit_params}
        run = fit_into(
            workspace, run_id, model, dataset, fitted, fit_params=fit_params, params=lineage
        )
    subject = Subject(
        run=run,
        model=model,
        data=dataset,
        assignment=assignment,
        settings=settings,
        root=project.path,
        previous=(primary[1], primary[2]),
    )
    evaluations = Evaluations(project.runs_store.database)
    scores = []
    if held:
        scores.append(_judged(subject, evaluations, NEWEST, dataset, DEV, primary))
    scores.append(_judged(subject, evaluations, TEST_SPLIT, dataset, TEST, primary))
    reasons = [f"{s.data}: {r}" for s in scores for r in s.reasons]
    passed = scores[-1].passed is True and all(s.passed is not False for s in scores)
    version = project.registry.register(run, name)
    mode, endpoint = None, None
    if passed:
        mode, endpoint, why = _deploy(project, version, strategy, trigger)
        reasons += why
    return Retrained(
        run_id=run.id,
        model=name,
        version=version.version,
        strategy=strategy,
        training_set=built.summary(),
        trigger=trigger,
        passed=passed,
        reasons=reasons,
        shadow=endpoint,
        mode=mode,
        primary=primary[0].ref,
        scores=scores,
    )


def weight_keyword(model: Any) -> str | None:
    """The keyword that takes ``sample_weight`` in ``model.fit`` (a pipeline's last
    step's, ``step__sample_weight``), or None when it takes none.

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> weight_keyword(make_pipeline(StandardScaler(), LogisticRegression()))
    'logisticregression__sample_weight'
    """
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps:
        step, last = steps[-1]
        inner = weight_keyword(last)
        return None if inner is None else f"{step}__{inner}"
    fit = getattr(model, "fit", None)
    if fit is None:
        return None
    return "sample_weight" if "sample_weight" in inspect.signature(fit).parameters else None


def _weighting(model: Any, settings: Settings) -> dict[str, Any]:
    keyword = weight_keyword(model)
    if keyword is None:
        raise ConfigError(
            f"strategy weighted gives each row a recency weight as sample_weight, and "
            f"{settings.model.factory} takes none in fit; retrain with --strategy all or "
            "--strategy window, or use a model whose fit takes sample_weight"
        )
    return {keyword: None}  # the weights once the training set is built


def _whole(
    frame: pd.DataFrame,
    newest: pd.DataFrame,
    data: Dataset,
    split: Split,
    settings: Settings,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The training set, the newest labelled rows and the original test split as one
    frame (times in UTC), and the split of each row: train, dev and test."""
    test = data.frame.iloc[split.rows("test")]
    target, time = settings.data.target, time_column(settings)
    newest = newest.drop(columns=RECEIVED_AT, errors="ignore")
    if len(newest):
        newest = newest.assign(**{target: labels_like(newest[target], data.frame[target])})
    parts = [frame, newest[[c for c in frame.columns if c in newest.columns]], test]
    parts = [p for p in parts if len(p)]  # an empty one would turn the target's type to object
    parts = [
        p.assign(**{time: pd.to_datetime(p[time], utc=True)}) if time in p else p for p in parts
    ]
    whole = pd.concat(parts, ignore_index=True).drop(columns=LOGGED_AT, errors="ignore")
    sizes = [len(frame), len(newest), len(test)]
    assignment = np.repeat(np.array([TRAIN, DEV, TEST], dtype=np.int8), sizes)
    return whole, assignment


def _primary(project: Project, name: str) -> tuple[ModelVersion, Any, Any] | None:
    """The endpoint's primary: its version, run and model; None when nothing is served."""
    registry = project.registry
    deployed = [d for d in registry.deployments() if d.endpoint == name]
    if not deployed:
        return None
    version = registry.get(f"{deployed[0].name}:{deployed[0].primary}")
    return version, project.runs_store.get(version.run_id), registry.load(version)


def _judged(
    subject: Subject,
    evaluations: Evaluations,
    name: str,
    dataset: Dataset,
    part: int,
    primary: tuple[ModelVersion, Any, Any],
) -> Scores:
    """The candidate evaluated (and audited) on one part of ``dataset``, beside the
    primary's metrics there."""
    rows = dataset.rows(np.flatnonzero(subject.assignment == part))
    labels = list(dataset.labels)
    mine = metrics(dataset.task, rows.y, subject.model.predict(rows.X), labels)
    theirs = metrics(dataset.task, rows.y, primary[2].predict(rows.X), labels)
    try:
        on = None if part == TEST else _named(rows, name)
        evaluation: Evaluation = evaluate_run(subject, evaluations, on)
    except ProdmlError as exc:
        return Scores(name, len(rows.frame), mine, theirs, None, [f"not audited: {exc}"])
    failed = [r["reason"] for r in evaluation.result["audit"]["rules"] if not r["passed"]]
    return Scores(name, len(rows.frame), mine, theirs, evaluation.passed, failed)


def _named(rows: Dataset, name: str) -> Dataset:
    return replace(rows, source=f"{name} rows")


def _deploy(
    project: Project,
    version: ModelVersion,
    strategy: Strategy,
    trigger: dict[str, Any] | None,
) -> tuple[str | None, str | None, list[str]]:
    """Deploy a passing candidate beside the primary, as a shadow: (mode, endpoint, why
    not)."""
    why = "retrained by " + ("a person" if trigger is None else f"trigger {_json(trigger)}")
    deployer = project.deployer(None if trigger is None else ACTOR)
    try:
        deployer.deploy(version.ref, "shadow", reason=f"{why}, strategy {strategy}")
    except DeploymentError as exc:
        return None, None, [f"not deployed: {exc}"]
    return "shadow", version.name, []


def _lineage(
    summary: dict[str, Any],
    trigger: dict[str, Any] | None,
    endpoint: str,
    since: datetime | None,
    window: Any,
    half_life: Any,
    held: int,
) -> dict[str, Any]:
    """The run's lineage, as ``retrain.*`` parameters beside the model's."""
    found = {f"retrain.{key}": value for key, value in summary.items()}
    return found | {
        "retrain.trigger": "manual" if trigger is None else _json(trigger),
        "retrain.endpoint": endpoint,
        "retrain.since": None if since is None else since.isoformat(),
        "retrain.window": None if window is None else str(window),
        "retrain.half_life": None if half_life is None else str(half_life),
        "retrain.newest_rows": held,
    }


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
