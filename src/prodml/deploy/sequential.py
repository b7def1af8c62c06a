"""Automatic canary decisions: an always-valid sequential test on each guard metric.

A canary candidate gets a share of the traffic. After every batch of requests the runner
counts, for candidate and primary over the same period, each guard's events and calls
:func:`decide`, which answers with one :class:`Decision`:

* ``rollback``: some guard shows harm beyond its tolerance;
* ``advance``: no guard shows harm, and every guard's candidate arm holds at least
  ``min_requests`` observations (the semantics of Argo Rollouts and Flagger);
* ``hold``: no harm shown, but too little data yet. A hold is never a failure.

A guard's harm is ``higher`` (an error rate), ``lower`` (accuracy) or ``either`` (a share
of the answers that should not move, for output drift: harm when the interval lies wholly
outside ``[-tolerance, tolerance]``; the interval is two-sided already, so the same alpha
holds).

**Why sequential.** Flagger and Argo Rollouts compare each window with a fixed threshold.
Checked after every batch, such a check fires by chance sooner or later: a classical
one-sided z-test at 5% on the running totals, looked at after each of 400 batches of 50
requests, rolls back about 40% of identical candidates (simulated; one on each window of
500 requests, 96%). Here each guard's test is always valid: the chance that it *ever*
rolls back a candidate no worse than its tolerance stays below alpha, however often it is
looked at.

**The test** (the normal-mixture mSPRT of Johari, Koomen, Pekelis and Walsh, "Always valid
inference", 2017, as in Optimizely's stats engine). A guard counts events per request: a
failed request (error rate), a correct labelled prediction (accuracy, where harm is lower),
a request slower than a fixed threshold (latency, see :func:`slower_than`). With ``d`` the
candidate's rate minus the primary's, oriented so that larger is worse, and ``v`` its
variance, ``v = s_c^2 / n_c + s_p^2 / n_p`` (plug-in: an arm's ``s^2 = p (1 - p)`` at its
rate with one event and one non-event added, as Agresti and Caffo do, and at least the
pooled rate's, so that an arm whose few requests hold no events does not claim too small
a variance), the mixture likelihood ratio of ``H0: harm = theta`` is

    Lambda(theta) = sqrt(v / (v + tau^2)) * exp(tau^2 (d - theta)^2 / (2 v (v + tau^2)))

the normal likelihood ratio averaged over alternatives drawn from ``N(theta, tau^2)``, with
``tau`` = ``MIXING_SD`` standard deviations of one request (pooled), so that one mixture
suits rare errors and common accuracies alike: a doubled error rate (1% to 2%) is about 0.1
such deviations, five points of accuracy (90% to 85%) about 0.16. A guard tolerates harm
up to its ``tolerance`` (``H0: harm <= tolerance``) and shows harm when the always-valid
interval ``{theta: Lambda(theta) < 1 / alpha}``,

    d +- sqrt(2 v (v + tau^2) / tau^2 * (log(1 / alpha) + log((v + tau^2) / v) / 2)),

lies wholly above the tolerance: the same as ``Lambda(tolerance) >= 1 / alpha`` with ``d``
above the tolerance. The interval covers the true difference at every look at once with
probability at least 1 - alpha (Ville's inequality, for a normal estimate of known
variance and a fixed tau), so the test holds alpha for every harm up to the tolerance, not
only at it. The mixture is two-sided; a one-sided (half-normal) mixture would need about
13% fewer requests (simulated), but has no interval in closed form.

**Several guards.** With k guards each is tested at ``alpha / k`` (Bonferroni), so the
chance that any of them rolls back a harmless candidate stays below ``alpha``.

**The numbers** (simulated: batches of 50 requests, 10% of them to the canary, a look
after every batch, one guard, tolerance 0, alpha 0.05). False rollbacks of an identical
candidate, 1% errors on both arms, over 100,000 requests: 0.18% of 20,000 runs; at other
rates (0.1% to 50%) and shares (1% to 50%) at most 1.2% of 4,000 runs. The bound is exact
only as the counts grow (normal approximation, plug-in variance); the simulation is what
shows it holds at a 1% error rate, with few events in the canary arm. Power, as the canary
observations by which 95% of runs have rolled back (the 95th percentile of 20,000 runs):

* error rate doubled, 1% to 2%: 3,875 canary requests (about 38,750 in all);
* accuracy five points lower, 90% to 85%: 1,045 labelled canary predictions.

With three guards (alpha / 3 each) 4,546 and 1,242. :data:`REQUESTS_TO_DETECT` pins 4,500
and 1,200 for one guard, by which 97.9% and 97.6% of the runs had rolled back.

A canary with feedback has four guards (error rate, latency, output, accuracy; alpha / 4
each). Simulated as above, 20,000 runs: the 95th percentiles are 4,758 canary requests
for the doubled error rate and 1,302 labelled canary predictions for accuracy five points
lower; an output share moved 15 points (60% to 45% or 75%, tolerance 5 points) is rolled
back in every run, by 698 canary requests in 95%; one moved by exactly the tolerance, in
0.14% of runs; an identical one in none. :data:`CANARY_REQUESTS_TO_DETECT` pins 5,000,
1,400 and 800, by which 96.2%, 96.8% and over 95% had rolled back.

>>> errors = Guard("error_rate", "higher", tolerance=0.0)
>>> decision = decide([(errors, ArmCounts(2_000, 60), ArmCounts(18_000, 180))])
>>> decision.verdict
'rollback'
>>> print(decision.reason)  # doctest: +NORMALIZE_WHITESPACE
rollback: error_rate 3.00% against 1.00%, +2.00 points (always-valid 95% interval
+0.81 to +3.19), beyond the tolerance of 0.00 points
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal, TypeAlias, get_args

import numpy as np
import numpy.typing as npt

from prodml.errors import ConfigError, DataError

__all__ = [
    "CANARY_REQUESTS_TO_DETECT",
    "MIXING_SD",
    "REQUESTS_TO_DETECT",
    "ArmCounts",
    "Decision",
    "Guard",
    "GuardResult",
    "Harm",
    "Verdict",
    "decide",
    "harm_interval",
    "log_mixture_ratio",
    "slower_than",
    "smallest_detectable",
]

Harm = Literal["higher", "lower", "either"]
Verdict = Literal["rollback", "advance", "hold"]
Floats: TypeAlias = npt.NDArray[np.float64]

#: The mixing distribution's standard deviation, in standard deviations of one request.
MIXING_SD = 0.1
#: Canary observations by which at least 95% of simulated canaries roll back, at a 10%
#: share with one guard at alpha 0.05 (the module docstring has the 95th percentiles).
REQUESTS_TO_DETECT = {"error_rate_1_to_2_percent": 4_500, "accuracy_90_to_85_percent": 1_200}
#: The same with the four guards of a canary with feedback (alpha / 4 each).
CANARY_REQUESTS_TO_DETECT = {
    "error_rate_1_to_2_percent": 5_000,
    "accuracy_90_to_85_percent": 1_400,
    "output_share_60_to_45_percent": 800,
}


@dataclass(frozen=True)
class Guard:
    """One metric a canary must not harm: its name, which way is harm, and by how much
    harm is tolerated (a difference of rates: 0.005 lets the candidate be half a point
    worse).

    >>> Guard("accuracy", "lower", tolerance=0.01)
    Guard(name='accuracy', harm='lower', tolerance=0.01)
    """

    name: str
    harm: Harm
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"guard name {self.name!r} is not allowed; give a non-empty name")
        if self.harm not in get_args(Harm):
            raise ConfigError(
                f"guard '{self.name}': harm={self.harm!r} is not allowed; harm must be "
                "'higher' (e.g. an error rate), 'lower' (e.g. accuracy) or 'either' (a "
                "share of the answers that must not move)"
            )
        _fraction(f"guard '{self.name}'", "tolerance", self.tolerance, "[0, 1)", "0.005")


@dataclass(frozen=True)
class ArmCounts:
    """One arm's observations of one guard: ``n`` requests (or labelled predictions), of
    which ``events`` counted (failed, correct, slow).

    >>> ArmCounts(n=500, events=4)
    ArmCounts(n=500, events=4)
    """

    n: int
    events: int

    def __post_init__(self) -> None:
        whole = all(isinstance(x, int) and not isinstance(x, bool) for x in (self.n, self.events))
        if not (whole and 0 <= self.events <= self.n):
            raise DataError(
                f"counts n={self.n!r}, events={self.events!r} are not allowed; both must be "
                "whole numbers with 0 <= events <= n"
            )

    @property
    def rate(self) -> float:
        """events / n, 0.0 without observations."""
        return self.events / self.n if self.n else 0.0


@dataclass(frozen=True)
class GuardResult:
    """One guard's test at one look, on the metric's own scale (accuracy as accuracy).

    ``difference`` is the candidate's rate minus the primary's, ``low`` and ``high`` its
    always-valid interval at 1 - alpha / k; ``statistic`` is the mixture likelihood ratio
    against the nearest harmless difference (``Lambda(tolerance)`` when the estimate is
    beyond the tolerance), ``harmful`` when it reaches ``threshold`` = k / alpha;
    ``detectable`` the smallest harm this look detects with 95% power
    (:func:`smallest_detectable`, math.inf without data).
    """

    guard: Guard
    candidate: ArmCounts
    primary: ArmCounts
    difference: float
    low: float
    high: float
    statistic: float
    threshold: float
    harmful: bool
    detectable: float


@dataclass(frozen=True)
class Decision:
    """The verdict of one look, the result of each guard, and one line saying why."""

    verdict: Verdict
    alpha: float
    min_requests: int
    guards: tuple[GuardResult, ...]
    reason: str


def decide(
    observed: Sequence[tuple[Guard, ArmCounts, ArmCounts]],
    alpha: float = 0.05,
    min_requests: int = 1_000,
) -> Decision:
    """Roll back, advance or hold, from each guard's ``(guard, candidate, primary)`` counts
    over the same period.

    Rollback as soon as one guard shows harm, whatever the counts; otherwise advance once
    every guard's candidate arm holds ``min_requests`` observations, else hold.

    >>> accuracy = Guard("accuracy", "lower", tolerance=0.01)
    >>> decide([(accuracy, ArmCounts(300, 268), ArmCounts(2_700, 2_430))]).verdict
    'hold'
    >>> decide([(accuracy, ArmCounts(3_000, 2_690), ArmCounts(27_000, 24_300))]).verdict
    'advance'
    """
    _fraction("decide", "alpha", alpha, "(0, 1)", "0.05")
    if isinstance(min_requests, bool) or not isinstance(min_requests, int) or min_requests < 1:
        raise ConfigError(
            f"decide: min_requests={min_requests!r} is not allowed; min_requests must be a "
            "whole number >= 1"
        )
    if not observed:
        raise ConfigError("decide needs at least one (guard, candidate, primary) triple")
    names = [guard.name for guard, _, _ in observed]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"guard '{twice[0]}' is given twice; give each guard once")
    each = alpha / len(observed)
    results = tuple(_result(g, candidate, primary, each) for g, candidate, primary in observed)
    harmful = [r for r in results if r.harmful]
    short = [r for r in results if r.candidate.n < min_requests]
    if harmful:
        return Decision("rollback", alpha, min_requests, results, _harm_reason(harmful[0], each))
    if short:
        fewest = min(short, key=lambda r: r.candidate.n)
        reason = (
            f"hold: no guard shows harm, but {fewest.guard.name} has {fewest.candidate.n:,} "
            f"canary observations of the {min_requests:,} needed"
        )
        return Decision("hold", alpha, min_requests, results, reason)
    reason = f"advance: no guard shows harm after {min_requests:,} or more canary observations"
    return Decision("advance", alpha, min_requests, results, reason)


def harm_interval(
    candidate_n: npt.ArrayLike,
    candidate_events: npt.ArrayLike,
    primary_n: npt.ArrayLike,
    primary_events: npt.ArrayLike,
    alpha: float = 0.05,
) -> tuple[Floats, Floats, Floats]:
    """The estimate of harm (candidate rate minus primary rate, events being harms) and its
    always-valid interval at 1 - alpha, elementwise over arrays of counts (for simulating
    many runs at once). An arm without observations gives 0 in [-1, 1].

    >>> estimate, low, high = harm_interval(1_000, 20, 9_000, 90)
    >>> float(estimate), round(float(low), 4), round(float(high), 4)
    (0.01, -0.0042, 0.0242)
    """
    _fraction("harm_interval", "alpha", alpha, "(0, 1)", "0.05")
    nc, xc, np_, xp = _counts(candidate_n, candidate_events, primary_n, primary_events)
    estimate, v, tau2 = _moments(nc, xc, np_, xp)
    width = _half_width(v, tau2, alpha)
    empty = (nc == 0) | (np_ == 0)
    low = np.where(empty, -1.0, np.maximum(estimate - width, -1.0))
    high = np.where(empty, 1.0, np.minimum(estimate + width, 1.0))
    return np.where(empty, 0.0, estimate), low, high


def log_mixture_ratio(
    difference: npt.ArrayLike, variance: npt.ArrayLike, tau2: npt.ArrayLike
) -> Floats:
    """log Lambda: the log of the normal likelihood ratio of an estimate ``difference``
    away from the null (variance ``variance``), averaged over N(null, tau2) alternatives.

    >>> round(float(log_mixture_ratio(0.0, 1.0, 3.0)), 4)  # log sqrt(1 / 4)
    -0.6931
    """
    s, v, t = (np.asarray(a, dtype=np.float64) for a in (difference, variance, tau2))
    return np.asarray(0.5 * np.log(v / (v + t)) + t * s * s / (2 * v * (v + t)))


def smallest_detectable(
    n_candidate: int,
    n_primary: int,
    baseline_rate: float,
    alpha: float = 0.05,
    power: float = 0.95,
    *,
    harm: Harm = "higher",
    tolerance: float = 0.0,
) -> float:
    """The smallest harm (a positive difference of rates) that a look at these counts
    shows with probability ``power``, when the primary's rate is ``baseline_rate``.

    Two steps on the normal approximation, each a bisection (60 halvings) over the
    expected counts: the critical estimate ``c``, the smallest that shows harm (``c =
    tolerance + w(c)``, with ``w`` the interval's half-width at the variance an estimate
    ``c`` brings); then the harm ``delta`` whose estimate, about normal around ``delta``
    with variance ``v(delta)``, exceeds ``c`` with that probability: ``delta = c + z_power
    * sqrt(v(delta))``. It speaks of one look; having rolled back by then, at any of the
    looks before, is a little likelier. For ``harm="either"`` it is the smallest rise (a
    fall of about the same size is found about as often). math.inf without observations,
    or when no harm within the rate's range is detectable.

    >>> round(smallest_detectable(4_000, 36_000, 0.01), 4)
    0.0103
    >>> round(smallest_detectable(1_000, 9_000, 0.90, harm="lower"), 3)
    0.054
    """
    _fraction("smallest_detectable", "alpha", alpha, "(0, 1)", "0.05")
    _fraction("smallest_detectable", "power", power, "(0, 1)", "0.95")
    _fraction("smallest_detectable", "baseline_rate", baseline_rate, "[0, 1]", "0.01")
    _fraction("smallest_detectable", "tolerance", tolerance, "[0, 1)", "0.005")
    if harm not in get_args(Harm):
        raise ConfigError(
            f"smallest_detectable: harm={harm!r} is not allowed; harm must be 'higher', "
            "'lower' or 'either'"
        )
    nc, _, np_, _ = _counts(n_candidate, 0, n_primary, 0)
    base = 1.0 - baseline_rate if harm == "lower" else baseline_rate
    z_power = NormalDist().inv_cdf(power)

    def moments(delta: float) -> tuple[Floats, Floats, Floats]:
        return _moments(nc, nc * (base + delta), np_, np_ * base)

    def shows_harm(estimate: float) -> float:
        d, v, tau2 = moments(estimate)
        return float(d - _half_width(v, tau2, alpha)) - tolerance

    def has_power(delta: float) -> float:
        return delta - critical - z_power * math.sqrt(float(moments(delta)[1]))

    if n_candidate == 0 or n_primary == 0:
        return math.inf
    critical = _root(shows_harm, tolerance, 1.0 - base)
    return _root(has_power, critical, 1.0 - base)


def slower_than(latencies_ms: npt.ArrayLike, threshold_ms: float) -> ArmCounts:
    """The latency guard's counts for one arm: its requests, and how many took longer than
    ``threshold_ms``.

    The latency guard compares the share of slow requests, a rate like any other: take the
    primary's p95 from before the canary started (say the last hour) as the threshold,
    keep it fixed for the whole canary, and count both arms against it; the primary's share
    stays near 5%, and ``Guard("slow_share", "higher", tolerance=0.02)`` lets the
    candidate's be at most two points above it. A threshold fixed in advance keeps every
    request a coin flip, which the test needs; both arms over the same period share the
    load.

    >>> slower_than([12.0, 30.5, 18.0, 95.0], threshold_ms=25.0)
    ArmCounts(n=4, events=2)
    """
    values = np.asarray(latencies_ms, dtype=np.float64).ravel()
    return ArmCounts(int(values.size), int(np.count_nonzero(values > threshold_ms)))


def _result(guard: Guard, candidate: ArmCounts, primary: ArmCounts, alpha: float) -> GuardResult:
    lower = guard.harm == "lower"  # then the non-events (wrong predictions) are the harms
    xc = candidate.n - candidate.events if lower else candidate.events
    xp = primary.n - primary.events if lower else primary.events
    estimate, low, high = (float(a) for a in harm_interval(candidate.n, xc, primary.n, xp, alpha))
    either = guard.harm == "either"  # then a move either way is harm: |d| against tolerance
    statistic = 1.0
    if candidate.n and primary.n:
        _, v, tau2 = _moments(*_counts(candidate.n, xc, primary.n, xp))
        # the nearest harmless difference
        beyond = max((abs(estimate) if either else estimate) - guard.tolerance, 0.0)
        statistic = math.exp(min(float(log_mixture_ratio(beyond, v, tau2)), 700.0))
    sign = -1.0 if lower else 1.0
    shown = low > guard.tolerance or (either and high < -guard.tolerance)
    return GuardResult(
        guard=guard,
        candidate=candidate,
        primary=primary,
        difference=sign * estimate,
        low=min(sign * low, sign * high),
        high=max(sign * low, sign * high),
        statistic=statistic,
        threshold=1.0 / alpha,
        harmful=bool(candidate.n and primary.n and shown),
        detectable=smallest_detectable(
            candidate.n,
            primary.n,
            primary.rate,
            alpha,
            harm=guard.harm,
            tolerance=guard.tolerance,
        ),
    )


def _harm_reason(result: GuardResult, alpha: float) -> str:
    return (
        f"rollback: {result.guard.name} {result.candidate.rate:.2%} against "
        f"{result.primary.rate:.2%}, {100 * result.difference:+.2f} points (always-valid "
        f"{100 * (1 - alpha):.4g}% interval {100 * result.low:+.2f} to {100 * result.high:+.2f}), "
        f"beyond the tolerance of {100 * result.guard.tolerance:.2f} points"
    )


def _moments(nc: Floats, xc: Floats, np_: Floats, xp: Floats) -> tuple[Floats, Floats, Floats]:
    """The estimate d, its plug-in variance v and the mixing variance tau^2."""
    d = xc / np.maximum(nc, 1) - xp / np.maximum(np_, 1)
    pc, pp = (xc + 1) / (nc + 2), (xp + 1) / (np_ + 2)
    pooled = (xc + xp + 1) / (nc + np_ + 2)
    each, together = pc * (1 - pc), pooled * (1 - pooled)
    # An arm whose few requests happen to hold no events claims too small a variance; the
    # pooled rate's variance bounds it from below.
    candidate_part = np.maximum(each, together) / np.maximum(nc, 1)
    v = candidate_part + np.maximum(pp * (1 - pp), together) / np.maximum(np_, 1)
    return d, v, MIXING_SD**2 * together


def _half_width(v: Floats, tau2: Floats, alpha: float) -> Floats:
    """Half the interval {theta: Lambda(theta) < 1 / alpha}: Lambda solved for |d - theta|."""
    return np.sqrt(2 * v * (v + tau2) / tau2 * (math.log(1 / alpha) + 0.5 * np.log1p(tau2 / v)))


def _root(gap: Callable[[float], float], lo: float, hi: float) -> float:
    """The smallest x in [lo, hi] with gap(x) >= 0, gap rising (60 halvings); else inf."""
    if hi < lo or gap(hi) < 0:
        return math.inf
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gap(mid) < 0 else (lo, mid)
    return hi


def _counts(*counts: npt.ArrayLike) -> tuple[Floats, Floats, Floats, Floats]:
    nc, xc, np_, xp = np.broadcast_arrays(*(np.asarray(c, dtype=np.float64) for c in counts))
    bad = ~((xc >= 0) & (xc <= nc) & (xp >= 0) & (xp <= np_))
    if bad.any():
        i = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise DataError(
            f"counts candidate {nc[i]:g} with {xc[i]:g} events, primary {np_[i]:g} with "
            f"{xp[i]:g} are not allowed; each arm's events must be from 0 to its n"
        )
    return nc, xc, np_, xp


def _fraction(
    owner: str,
    name: str,
    value: float,
    interval: Literal["(0, 1)", "[0, 1)", "[0, 1]"],
    example: str,
) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    above = number and (value > 0 or (interval[0] == "[" and value == 0))
    below = number and (value < 1 or (interval[-1] == "]" and value == 1))
    if not (above and below):
        raise ConfigError(
            f"{owner}: {name}={value!r} is not allowed; {name} must be in {interval}, "
            f"e.g. {example}"
        )
