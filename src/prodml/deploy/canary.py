"""Canary analysis: count each guard's events for the canary and the primary over the
current ramp step, decide with the always-valid test of :mod:`prodml.deploy.sequential`,
and act: roll back on harm, advance once the step's time and requests are both there,
hold otherwise.

The guards, each comparing the two versions over the same period (not fixed numbers):

- ``error_rate``: requests answered with a server error (5xx), of all requests routed to
  the version (its logged predictions plus its errors);
- ``slow``: predictions slower than the primary's 95th percentile latency over the hour
  before the step began (over the step itself, when there is none), fixed for the step;
- ``output``: output drift, as the share of answers that are the primary's most frequent
  label (for a regressor: above the primary's median), both fixed from the hour before
  the step (or the step itself) like the latency threshold; a move either way beyond its
  tolerance is harm. One share catches a binary classifier's or a regressor's shift; for
  several classes, only a shift to or from the most frequent one;
- ``accuracy``: labelled predictions whose label was right (``POST /feedback``,
  ``prodml feedback``); a guard only once the canary has labels, so a team without
  feedback is not held forever.

A decision is an event with its evidence (each guard's counts per arm, statistic and
threshold): ``rollback`` ends the canary, ``advance`` moves it to its ramp's next share or,
past the last, promotes it. A hold changes nothing; a step whose time ran out without
enough requests is "not proven" in what :func:`check` returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from prodml.config import CanarySettings
from prodml.deploy.changes import Deployer
from prodml.deploy.sequential import ArmCounts, Decision, Guard, decide
from prodml.errors import DeploymentError
from prodml.registry import Deployment, Registry
from prodml.store.log_format import decode_outputs, microseconds
from prodml.store.monitoring import Monitoring
from prodml.store.runs import utc_now
from prodml.store.tables import LogStreamRow, PredictionRow

#: How far back the primary's latency is read for the ``slow`` guard's threshold.
LATENCY_BASELINE = timedelta(hours=1)
#: The fewest primary predictions that make a latency baseline.
BASELINE_ROWS = 100


@dataclass(frozen=True)
class CanaryCheck:
    """One look at an endpoint's canary: the decision, what was done (rollback, advance,
    promote or hold), and, for a hold, whether the step's time is up (then the step is
    "not proven": it lacks requests, not time)."""

    endpoint: str
    decision: Decision
    action: str
    time_up: bool
    deployment: Deployment

    @property
    def summary(self) -> str:
        """One line: the decision's reason, with what was done when it differs (an
        advance waits for the step's time; a hold past it is not proven)."""
        reason = self.decision.reason
        if self.not_proven:
            return f"{reason} (not proven: the step's time is up without enough requests)"
        if self.action == "hold" and self.decision.verdict == "advance":
            return f"hold until the step's time is up; {reason}"
        if self.action == "promote":
            return f"promote, past the ramp's last step; {reason}"
        return reason

    @property
    def not_proven(self) -> bool:
        """A hold after the step's time: too few requests to show the canary harmless."""
        return self.action == "hold" and self.time_up

    def evidence(self) -> dict[str, Any]:
        """The decision as an event's detail: each guard's counts, statistic, threshold."""
        return evidence(self.decision)


def look(
    registry: Registry,
    endpoint: str,
    settings: CanarySettings | None = None,
    now: datetime | None = None,
) -> CanaryCheck:
    """What the guards of ``endpoint``'s canary show now, without acting on it."""
    settings = settings or CanarySettings()
    now = now or utc_now()
    deployment = registry.deployment(endpoint)
    candidate = deployment.candidate
    if candidate is None or candidate.mode != "canary" or candidate.step_started_at is None:
        raise DeploymentError(
            f"endpoint {endpoint} has no canary to check; deploy one with "
            f"prodml deploy {deployment.name}:VERSION --canary"
        )
    counts = Counts(Monitoring(registry.database), endpoint, candidate.step_started_at, now)
    observed = counts.guards(candidate.version, deployment.primary, settings)
    min_requests = int(candidate.plan.get("min_requests", 500))
    decision = decide(observed, alpha=settings.alpha, min_requests=min_requests)
    elapsed = (now - candidate.step_started_at).total_seconds()
    step_done = elapsed >= float(candidate.plan.get("step_seconds", 600))
    return CanaryCheck(endpoint, decision, "hold", step_done, deployment)


def check(
    deployer: Deployer,
    endpoint: str,
    settings: CanarySettings | None = None,
    now: datetime | None = None,
) -> CanaryCheck:
    """Look at ``endpoint``'s canary once and act on what the guards show: roll back on
    harm; advance (or promote, past the ramp's last step) once no guard shows harm, the
    step's requests are there and its time is up; else hold."""
    seen = look(deployer.registry, endpoint, settings, now)
    decision = seen.decision
    if decision.verdict == "rollback":
        changed = deployer.rollback(endpoint, reason=decision.reason, evidence=evidence(decision))
        return CanaryCheck(endpoint, decision, "rollback", False, changed)
    if decision.verdict == "advance" and seen.time_up:
        changed = deployer.advance(endpoint, evidence(decision))
        action = "promote" if changed.candidate is None else "advance"
        return CanaryCheck(endpoint, decision, action, False, changed)
    return seen


def evidence(decision: Decision) -> dict[str, Any]:
    """What an automatic change records: per guard, the counts of each arm, the estimate
    with its always-valid interval, the statistic and the threshold it is compared with."""
    return {
        "verdict": decision.verdict,
        "alpha": decision.alpha,
        "guards": {
            r.guard.name: {
                "tolerance": r.guard.tolerance,
                "candidate": asdict(r.candidate),
                "primary": asdict(r.primary),
                "difference": r.difference,
                "interval": [r.low, r.high],
                "statistic": r.statistic,
                "threshold": r.threshold,
                "detectable": r.detectable,
            }
            for r in decision.guards
        },
    }


class Counts:
    """The prediction log of ``endpoint`` between ``since`` and ``until``, counted per
    version for each guard."""

    def __init__(self, monitoring: Monitoring, endpoint: str, since: datetime, until: datetime):
        self.monitoring, self.endpoint = monitoring, endpoint
        self.since, self.until = since, until

    def guards(
        self, candidate: int, primary: int, settings: CanarySettings
    ) -> list[tuple[Guard, ArmCounts, ArmCounts]]:
        """``(guard, candidate counts, primary counts)`` for each guard that applies."""
        latencies = {v: self._latencies(v, self.since) for v in (candidate, primary)}
        answers = {v: self._answers(v, self.since) for v in (candidate, primary)}
        errors = {v: self._errors(v) for v in (candidate, primary)}
        before = self._baseline(self._latencies, primary, latencies[primary])
        threshold = float(np.percentile(before, 95)) if len(before) else float("inf")
        marked = _marker(self._baseline(self._answers, primary, answers[primary]))

        def requests(version: int) -> ArmCounts:
            return ArmCounts(len(latencies[version]) + errors[version], errors[version])

        def slow(version: int) -> ArmCounts:
            found = latencies[version]
            return ArmCounts(len(found), int((found > threshold).sum()))

        def output(version: int) -> ArmCounts:
            return ArmCounts(len(answers[version]), sum(map(marked, answers[version])))

        observed = [
            (
                Guard("error_rate", "higher", settings.error_rate),
                requests(candidate),
                requests(primary),
            ),
            (Guard("slow", "higher", settings.slow), slow(candidate), slow(primary)),
            (Guard("output", "either", settings.output), output(candidate), output(primary)),
        ]
        right = self._labelled()
        if right.get(candidate, ArmCounts(0, 0)).n:
            accuracy = Guard("accuracy", "lower", settings.accuracy)
            observed.append((accuracy, right[candidate], right.get(primary, ArmCounts(0, 0))))
        return observed

    def _streams(self, version: int) -> list[int]:
        query = select(LogStreamRow.id).where(
            LogStreamRow.endpoint == self.endpoint, LogStreamRow.model_version == version
        )
        with self.monitoring.database.session() as session:
            return list(session.scalars(query).all())

    def _latencies(self, version: int, since: datetime, until: datetime | None = None) -> Any:
        """The latencies (microseconds) of the version's answered predictions."""
        p = PredictionRow
        query = select(p.latency_us).where(
            p.stream_id.in_(self._streams(version)),
            p.at_us >= microseconds(since),
            p.at_us < microseconds(until or self.until),
        )
        with self.monitoring.database.session() as session:
            return np.array(session.scalars(query).all(), dtype=np.int64)

    def _errors(self, version: int) -> int:
        return self.monitoring.server_errors(self.endpoint, version, self.since, self.until)

    def _answers(self, version: int, since: datetime, until: datetime | None = None) -> Any:
        """The version's answers: each a label (as text) or a value."""
        streams = self.monitoring.streams(self.endpoint)
        p = PredictionRow
        query = select(p.stream_id, p.outputs).where(
            p.stream_id.in_([i for i, s in streams.items() if s.model_version == version]),
            p.at_us >= microseconds(since),
            p.at_us < microseconds(until or self.until),
        )
        with self.monitoring.database.session() as session:
            decoded = [decode_outputs(o, streams[i]) for i, o in session.execute(query).all()]
        return [str(d["label"]) if "label" in d else float(d["value"]) for d in decoded]

    def _baseline(
        self, read: Callable[[int, datetime, datetime], Any], primary: int, during: Any
    ) -> Any:
        """The primary's ``read`` over the hour before the step, or ``during`` the step
        when that hour holds too few."""
        before = read(primary, self.since - LATENCY_BASELINE, self.since)
        return before if len(before) >= BASELINE_ROWS else during

    def _labelled(self) -> dict[int, ArmCounts]:
        """Per version: labelled predictions of the period, and how many were right."""
        since, until = self.since, self.until
        seen: dict[int, list[int]] = {}
        for row in self.monitoring.labelled(self.endpoint):
            if since <= row.created_at < until:
                tally = seen.setdefault(row.model_version, [0, 0])
                tally[0] += 1
                tally[1] += str(row.outputs.get("label")) == str(row.truth)
        return {version: ArmCounts(n, right) for version, (n, right) in seen.items()}


def _marker(reference: list[Any]) -> Callable[[Any], bool]:
    """What the output guard counts: an answer that is the reference's most frequent label,
    or a value above its median."""
    if not reference:
        return lambda answer: False
    if isinstance(reference[0], str):
        top = Counter(reference).most_common(1)[0][0]
        return lambda answer: bool(answer == top)
    median = float(np.median(reference))
    return lambda answer: bool(answer > median)
