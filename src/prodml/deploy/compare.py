"""A shadow beside its primary, on the same requests: how often they agree (with a 95%
interval), where they disagree (the confusion between their answers), their latency, and,
once feedback has labelled some of those requests, each one's accuracy with McNemar's
paired test; for a regressor, the quantiles of the difference between their values.

Both answers of one request are in the prediction log under its request id (the primary's
as ``primary``, the shadow's as ``shadow``), so the comparison is a join on that id.

>>> wilson(90, 100)  # doctest: +ELLIPSIS
(0.82..., 0.94...)
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from sqlalchemy import select
from sqlalchemy.orm import aliased

from prodml.errors import DeploymentError
from prodml.registry import Registry
from prodml.store.log_format import decode_outputs
from prodml.store.monitoring import Monitoring
from prodml.store.tables import FeedbackRow, PredictionRow

#: How many pairs are read at most (the newest).
MAX_PAIRS = 200_000


@dataclass(frozen=True)
class Comparison:
    """The primary and a shadow on the requests both answered."""

    endpoint: str
    primary: int
    candidate: int
    pairs: int
    agreement: float | None = None  # a classifier's: the share of equal labels
    interval: tuple[float, float] | None = None  # Wilson's 95% interval of the agreement
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # primary -> shadow
    difference: dict[str, float] = field(default_factory=dict)  # a regressor's |a - b|
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # p50, p95 an arm
    labelled: int = 0
    accuracy: dict[str, float] = field(default_factory=dict)  # primary, shadow
    mcnemar: dict[str, float] = field(default_factory=dict)  # only_primary, only_shadow, p


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of a proportion."""
    if n == 0:
        return (0.0, 1.0)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, float(centre - half)), min(1.0, float(centre + half)))


def compare(registry: Registry, endpoint: str, candidate: int | None = None) -> Comparison:
    """Compare ``endpoint``'s primary with its shadow (or with version ``candidate``, a
    shadow before)."""
    deployment = registry.deployment(endpoint)
    if candidate is None:
        if deployment.candidate is None or deployment.candidate.mode != "shadow":
            raise DeploymentError(
                f"endpoint {endpoint} has no shadow to compare; deploy one with prodml deploy "
                f"{deployment.name}:VERSION --shadow, or name a version that was one"
            )
        candidate = deployment.candidate.version
    monitoring = Monitoring(registry.database)
    streams = monitoring.streams(endpoint)
    first = [i for i, s in streams.items() if s.role == "primary" and s.model_version != candidate]
    second = [i for i, s in streams.items() if s.role == "shadow" and s.model_version == candidate]
    a, b = aliased(PredictionRow), aliased(PredictionRow)
    query = (
        select(
            a.request_id, a.stream_id, a.outputs, a.latency_us, b.stream_id, b.outputs, b.latency_us
        )
        .join(b, b.request_id == a.request_id)
        .where(a.stream_id.in_(first), b.stream_id.in_(second))
        .order_by(a.id.desc())
        .limit(MAX_PAIRS)
    )
    with registry.database.session() as session:
        rows = session.execute(query).all()
        truth = _labels(session, [row[0] for row in rows])
    primary = deployment.primary if not rows else streams[rows[0][1]].model_version
    done = Comparison(endpoint, primary, candidate, len(rows))
    if not rows:
        return done
    answers = [
        (rid, decode_outputs(x, streams[xs]), decode_outputs(y, streams[ys]))
        for rid, xs, x, _, ys, y, _ in rows
    ]
    latency = {
        "primary": _percentiles([row[3] for row in rows]),
        "shadow": _percentiles([row[6] for row in rows]),
    }
    if "value" in answers[0][1]:
        gaps = np.abs([x["value"] - y["value"] for _, x, y in answers])
        quantiles = {f"p{q}": float(np.percentile(gaps, q)) for q in (50, 90, 99)}
        return _with(done, difference={**quantiles, "max": float(gaps.max())}, latency_ms=latency)
    pairs = [(str(x["label"]), str(y["label"])) for _, x, y in answers]
    same = sum(x == y for x, y in pairs)
    confusion: dict[str, dict[str, int]] = {}
    for (x, y), count in sorted(Counter(pairs).items()):
        confusion.setdefault(x, {})[y] = count
    labelled = [
        (str(truth[rid]), str(x["label"]), str(y["label"])) for rid, x, y in answers if rid in truth
    ]
    result = _with(
        done,
        agreement=same / len(pairs),
        interval=wilson(same, len(pairs)),
        confusion=confusion,
        latency_ms=latency,
        labelled=len(labelled),
    )
    return _with(result, **_paired(labelled)) if labelled else result


def _paired(labelled: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Each model's accuracy on the same labelled requests, and McNemar's exact test on
    the requests only one of them got right."""
    only_primary = sum(t == x and t != y for t, x, y in labelled)
    only_shadow = sum(t == y and t != x for t, x, y in labelled)
    discordant = only_primary + only_shadow
    p = stats.binomtest(only_primary, discordant).pvalue if discordant else 1.0
    n = len(labelled)
    return {
        "accuracy": {
            "primary": sum(t == x for t, x, _ in labelled) / n,
            "shadow": sum(t == y for t, _, y in labelled) / n,
        },
        "mcnemar": {"only_primary": only_primary, "only_shadow": only_shadow, "p": float(p)},
    }


def _labels(session: Any, request_ids: list[str]) -> dict[str, Any]:
    """The newest label of each request id that has one."""
    found: dict[str, Any] = {}
    for start in range(0, len(request_ids), 5_000):
        part = request_ids[start : start + 5_000]
        query = (
            select(FeedbackRow.request_id, FeedbackRow.label)
            .where(FeedbackRow.request_id.in_(part))
            .order_by(FeedbackRow.id)
        )
        found.update({rid: label["value"] for rid, label in session.execute(query).all()})
    return found


def _percentiles(micros: list[int]) -> dict[str, float]:
    values = np.asarray(micros, dtype=np.float64) / 1000
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95))}


def _with(comparison: Comparison, **changes: Any) -> Comparison:
    return dataclasses.replace(comparison, **changes)
