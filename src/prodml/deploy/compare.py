"""A candidate beside its primary, side by side: ``prodml deployments compare NAME``.

A **shadow** answers the same requests as the primary (both answers are logged under one
request id), so the two are compared request by request: how often they agree, with a 95%
(Wilson) interval; where they disagree (the confusion between their answers); once
feedback labelled some of those requests, each one's accuracy on them and McNemar's exact
paired test; for a regressor, the quantiles of |primary - shadow|.

A **canary** answers requests of its own, so it is compared with the primary over the same
period, from the event that made it a canary: each side's answers by class, and its
accuracy on its own labelled answers with a Wilson interval, the difference with
Newcombe's interval (nothing is paired, so there is no agreement).

Both get each side's latency (p50, p95) and server-error rate with the differences, a test
of drift between the two sides' outputs (chi-square on the predicted classes, KS on the
confidences or a regressor's values, as :mod:`prodml.monitor.drift` computes them), and
the comparison per slice (:mod:`prodml.deploy.slices`).

>>> import prodml, tempfile
>>> project = prodml.Project(prodml.init(tempfile.mkdtemp() + "/bc", example="breast-cancer"))
>>> for run in (project.fit(), project.fit()):
...     _ = project.evaluate(run.id), project.register(run.id)
>>> _ = project.deployer("ana").deploy("breast-cancer:2", "shadow")
>>> found = compare(project.registry, "breast-cancer")  # no traffic yet: no pairs
>>> found.kind, found.primary.version, found.candidate.version, found.pairs
('shadow', 1, 2, 0)
>>> project.close()
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from prodml.config import SliceSpec
from prodml.deploy.intervals import newcombe, wilson_interval
from prodml.deploy.paired import agreement, gaps, mcnemar
from prodml.deploy.slices import SIDES, Slice, by_slice, share
from prodml.deploy.trial import (
    Answers,
    Kind,
    Trial,
    answered,
    errors,
    find,
    logged,
    shadowed,
)
from prodml.monitor.drift import Distribution, Method, drift_report
from prodml.monitor.scoring import CONFIDENCE, PREDICTED
from prodml.registry import Registry
from prodml.store.log_format import confidence
from prodml.store.monitoring import Monitoring


@dataclass(frozen=True)
class Arm:
    """One side: a version's answers and how they fared (a shadow's errors are the copies
    it failed to predict, which its server logs as errors of protocol ``shadow``)."""

    version: int
    role: str
    answers: int
    predicted: dict[str, int] = field(default_factory=dict)  # a classifier's, by class
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p95
    errors: int = 0  # server errors (5xx) of requests routed to it
    error_rate: float | None = None  # of its logged answers and errors in the period
    labelled: int = 0
    accuracy: float | None = None
    interval: tuple[float, float] | None = None  # the accuracy's, Wilson's 95%


@dataclass(frozen=True)
class Comparison:
    """A candidate (a shadow or a canary) beside its primary; see the module's docstring.
    ``deltas`` are the candidate's value minus the primary's."""

    endpoint: str
    kind: Kind
    since: datetime
    until: datetime | None  # None: the trial goes on
    primary: Arm
    candidate: Arm
    pairs: int = 0  # a shadow's: the requests both answered
    agreement: float | None = None
    interval: tuple[float, float] | None = None  # the agreement's, Wilson's 95%
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # primary -> shadow
    difference: dict[str, float] = field(default_factory=dict)  # a regressor's |a - b|
    mcnemar: dict[str, float] = field(default_factory=dict)  # only_primary, only_shadow, p
    deltas: dict[str, float | None] = field(default_factory=dict)
    accuracy_interval: tuple[float, float] | None = None  # a canary's, Newcombe's 95%
    drift: dict[str, dict[str, Any]] = field(default_factory=dict)  # by output
    slices: list[Slice] = field(default_factory=list)
    unsliced: list[str] = field(default_factory=list)  # why a slice could not be cut
    min_count: int = 30


def compare(
    registry: Registry,
    endpoint: str,
    version: int | None = None,
    *,
    slices: Sequence[SliceSpec] = (),
    min_count: int = 30,
) -> Comparison:
    """Compare ``endpoint``'s primary with its shadow or canary, or, with none now, with
    the last it had (or with ``version``, one of them); cut by ``slices``, each with at
    least ``min_count`` pairs (or labelled answers a side) to be sufficient evidence."""
    trial = find(registry, endpoint, version)
    if trial.kind == "shadow":
        sides = shadowed(registry, trial)
    else:
        sides = (answered(registry, trial, 0), answered(registry, trial, 1))
    asked = list(dict.fromkeys(sides[0].request_ids + sides[1].request_ids))
    truth = Monitoring(registry.database).labels(asked)
    right = (_right(sides[0], truth), _right(sides[1], truth))
    arms = (
        _arm(registry, trial, 0, sides[0], right[0]),
        _arm(registry, trial, 1, sides[1], right[1]),
    )
    found = Comparison(
        endpoint, trial.kind, trial.since, trial.until, *arms, deltas=_deltas(*arms),
        min_count=min_count,
    )  # fmt: skip
    if not sides[0].outputs or not sides[1].outputs:
        return found
    found = replace(found, drift=_drift(*sides))
    if "label" not in sides[0].outputs[0]:  # a regressor's values
        return replace(found, **gaps(*sides)) if trial.kind == "shadow" else found
    cut, unsliced = _slices(sides, right, trial.kind, slices, min_count)
    found = replace(found, slices=cut, unsliced=unsliced)
    if trial.kind == "shadow":
        return replace(found, **agreement(*sides), mcnemar=mcnemar(*right))
    if arms[0].labelled and arms[1].labelled:  # the canary's minus the primary's
        return replace(found, accuracy_interval=newcombe(*_hits(right[1]), *_hits(right[0])))
    return found


def _arm(registry: Registry, trial: Trial, side: int, answers: Answers, right: np.ndarray) -> Arm:
    version = (trial.primary, trial.candidate)[side]
    role = trial.roles[side]
    failed = errors(registry, trial, version)
    routed = failed + logged(registry, trial, side)
    found = Arm(
        version, role, len(answers.outputs), errors=failed, error_rate=share(failed, routed)
    )
    if not answers.outputs:
        return found
    latency = {f"p{q}": float(np.percentile(answers.latency_ms, q)) for q in (50, 95)}
    found = replace(found, latency_ms=latency)
    if "label" not in answers.outputs[0]:
        return found
    predicted = dict(sorted(Counter(answers.predicted).items()))
    k, n = _hits(right)
    return replace(
        found,
        predicted=predicted,
        labelled=n,
        accuracy=share(k, n),
        interval=wilson_interval(k, n) if n else None,
    )


def _slices(
    sides: tuple[Answers, Answers],
    right: tuple[np.ndarray, np.ndarray],
    kind: Kind,
    specs: Sequence[SliceSpec],
    min_count: int,
) -> tuple[list[Slice], list[str]]:
    """The comparison by slice: of a shadow's pairs; of a canary's rows, the primary's
    answers then the canary's, each side's values nan on the other's rows."""
    if kind == "shadow":
        same = np.array(
            [x == y for x, y in zip(sides[0].predicted, sides[1].predicted, strict=True)],
            dtype=float,
        )
        inputs = pd.DataFrame.from_records(sides[0].inputs)
        every = dict.fromkeys(SIDES, np.ones(len(same)))
        return by_slice(specs, inputs, every, dict(zip(SIDES, right, strict=True)), same, min_count)
    counts = [len(answers.outputs) for answers in sides]

    def on(side: int, values: np.ndarray) -> np.ndarray:
        parts = [np.full(n, np.nan) for n in counts]
        parts[side] = values
        return np.concatenate(parts)

    inputs = pd.DataFrame.from_records(sides[0].inputs + sides[1].inputs)
    answered = {name: on(i, np.ones(counts[i])) for i, name in enumerate(SIDES)}
    labelled = {name: on(i, right[i]) for i, name in enumerate(SIDES)}
    return by_slice(specs, inputs, answered, labelled, None, min_count)


def _drift(first: Answers, second: Answers) -> dict[str, dict[str, Any]]:
    """Drift from the primary's outputs to the candidate's, as the monitor scores outputs:
    chi-square on the predicted classes, KS on the confidences (a regressor's values)."""

    def both(side: Callable[[Answers], Distribution]) -> tuple[Distribution, Distribution]:
        return side(first), side(second)

    def numbers(value: Callable[[dict[str, Any]], float | None]) -> Callable[[Answers], Any]:
        return lambda a: Distribution.numeric(np.array([value(o) for o in a.outputs], float))

    tests: dict[str, tuple[Method, tuple[Distribution, Distribution]]] = {}
    if "label" in first.outputs[0]:
        classes = both(lambda a: Distribution.categorical(Counter(a.predicted)))
        tests[PREDICTED] = ("chisquare", classes)
        sure = both(numbers(confidence))
        if sure[0].rows and sure[1].rows:  # the answers have probabilities
            tests[CONFIDENCE] = ("ks", sure)
    else:
        tests[PREDICTED] = ("ks", both(numbers(lambda o: o["value"])))
    return {
        name: drift_report({name: a}, {name: b}, method=method).scores[name].to_dict()
        for name, (method, (a, b)) in tests.items()
    }


def _right(answers: Answers, truth: dict[str, Any]) -> np.ndarray:
    """1 where an answer's label was right, 0 where wrong, nan where it has no label."""
    return np.array(
        [
            float(str(truth[rid]) == str(o.get("label"))) if rid in truth else np.nan
            for rid, o in zip(answers.request_ids, answers.outputs, strict=True)
        ],
        dtype=float,
    )


def _hits(right: np.ndarray) -> tuple[int, int]:
    """(right, labelled) of :func:`_right`'s values."""
    labelled = ~np.isnan(right)
    return int(right[labelled].sum()), int(labelled.sum())


def _deltas(primary: Arm, candidate: Arm) -> dict[str, float | None]:
    """The candidate's latency, error rate and accuracy minus the primary's."""
    pairs = {
        "latency_p50_ms": (primary.latency_ms.get("p50"), candidate.latency_ms.get("p50")),
        "latency_p95_ms": (primary.latency_ms.get("p95"), candidate.latency_ms.get("p95")),
        "error_rate": (primary.error_rate, candidate.error_rate),
        "accuracy": (primary.accuracy, candidate.accuracy),
    }
    return {
        name: None if first is None or second is None else second - first
        for name, (first, second) in pairs.items()
    }
