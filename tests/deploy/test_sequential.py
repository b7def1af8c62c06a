"""The canary's sequential test: checked after every batch it rolls back a harmless
candidate in at most alpha of runs, finds real harm within the requests the module states,
and its arithmetic agrees with a direct integration and with simulated coverage."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import integrate, stats

from prodml.deploy import sequential
from prodml.deploy.sequential import (
    CANARY_REQUESTS_TO_DETECT,
    REQUESTS_TO_DETECT,
    ArmCounts,
    Guard,
    Harm,
    decide,
    harm_interval,
    log_mixture_ratio,
    slower_than,
    smallest_detectable,
)
from prodml.errors import ConfigError, DataError, ProdmlError

RUNS = 200
BATCH = 50  # requests between two looks
SHARE = 0.1  # of the requests go to the canary
ALPHA = 0.05
ERRORS = Guard("error_rate", "higher")
ACCURACY = Guard("accuracy", "lower")


@dataclass(frozen=True)
class Runs:
    """Running totals after each batch, one row a run: requests and events per arm."""

    candidate_n: np.ndarray
    candidate_events: np.ndarray
    primary_n: np.ndarray
    primary_events: np.ndarray


def canary_runs(seed: int, batches: int, candidate_rate: float, primary_rate: float) -> Runs:
    """RUNS canaries: each batch's requests split at random by SHARE, events per request."""
    rng = np.random.default_rng(seed)
    to_candidate = rng.binomial(BATCH, SHARE, (RUNS, batches))
    candidate_events = rng.binomial(to_candidate, candidate_rate)
    primary_events = rng.binomial(BATCH - to_candidate, primary_rate)
    return Runs(
        to_candidate.cumsum(axis=1),
        candidate_events.cumsum(axis=1),
        (BATCH - to_candidate).cumsum(axis=1),
        primary_events.cumsum(axis=1),
    )


def harmful_looks(
    runs: Runs, tolerance: float = 0.0, harms: Harm = "higher", guards: int = 1
) -> np.ndarray:
    """Where each run's test shows harm, look by look (the rule :func:`decide` applies to
    one of ``guards`` guards)."""
    xc, xp = runs.candidate_events, runs.primary_events
    if harms == "lower":
        xc, xp = runs.candidate_n - xc, runs.primary_n - xp
    _, low, high = harm_interval(runs.candidate_n, xc, runs.primary_n, xp, ALPHA / guards)
    return (low > tolerance) | ((high < -tolerance) if harms == "either" else False)


def canary_requests_at_rollback(runs: Runs, harmful: np.ndarray) -> np.ndarray:
    """The canary's requests at each run's first rollback; inf for runs never rolled back."""
    first = harmful.argmax(axis=1)
    at = runs.candidate_n[np.arange(RUNS), first].astype(float)
    return np.where(harmful.any(axis=1), at, np.inf)


def z_test_fires(runs: Runs) -> np.ndarray:
    """The classical one-sided two-proportion z-test at ALPHA, on the running totals."""
    nc, xc = runs.candidate_n, runs.candidate_events
    np_, xp = runs.primary_n, runs.primary_events
    pooled = (xc + xp) / (nc + np_)
    se = np.sqrt(pooled * (1 - pooled) * (1 / np.maximum(nc, 1) + 1 / np_))
    z = np.divide(xc / np.maximum(nc, 1) - xp / np_, se, out=np.zeros_like(se), where=se > 0)
    return np.asarray(z > stats.norm.ppf(1 - ALPHA))


# --- false rollbacks: at most alpha, however often the test looks ---------------------


@pytest.mark.parametrize(
    ("rate", "harms"), [(0.01, "higher"), (0.90, "lower")], ids=["errors", "accuracy"]
)
def test_an_identical_candidate_is_rolled_back_in_at_most_alpha_of_runs_checked_after_every_batch(
    rate: float, harms: Harm
) -> None:
    runs = canary_runs(seed=1, batches=400, candidate_rate=rate, primary_rate=rate)  # 20,000
    rolled_back = harmful_looks(runs, harms=harms).any(axis=1)
    assert rolled_back.mean() <= ALPHA


def test_a_candidate_worse_by_exactly_the_tolerance_is_rolled_back_in_at_most_alpha_of_runs() -> (
    None
):
    runs = canary_runs(seed=2, batches=400, candidate_rate=0.015, primary_rate=0.01)
    assert harmful_looks(runs, tolerance=0.005).any(axis=1).mean() <= ALPHA


def test_a_fixed_threshold_checked_after_every_batch_rolls_back_far_more_than_alpha() -> None:
    # The same 400 looks at the same identical candidates: the z-test is right at any one
    # look, but checked after every batch it fires on several times alpha of the runs.
    runs = canary_runs(seed=1, batches=400, candidate_rate=0.01, primary_rate=0.01)
    fires = z_test_fires(runs)
    assert fires[:, -1].mean() == pytest.approx(ALPHA, abs=0.035)
    assert fires.any(axis=1).mean() > 4 * ALPHA
    assert harmful_looks(runs).any(axis=1).mean() <= ALPHA


# --- power: real harm found within the requests the module states ---------------------


def test_a_doubled_error_rate_is_rolled_back_within_the_stated_canary_requests() -> None:
    stated = REQUESTS_TO_DETECT["error_rate_1_to_2_percent"]
    runs = canary_runs(seed=3, batches=1_000, candidate_rate=0.02, primary_rate=0.01)
    at = canary_requests_at_rollback(runs, harmful_looks(runs))
    assert runs.candidate_n[:, -1].min() > stated  # every run saw enough requests
    assert (at <= stated).mean() >= 0.95


def test_accuracy_five_points_lower_is_rolled_back_within_the_stated_labelled_predictions() -> None:
    stated = REQUESTS_TO_DETECT["accuracy_90_to_85_percent"]
    runs = canary_runs(seed=4, batches=300, candidate_rate=0.85, primary_rate=0.90)
    at = canary_requests_at_rollback(runs, harmful_looks(runs, harms="lower"))
    assert runs.candidate_n[:, -1].min() > stated
    assert (at <= stated).mean() >= 0.95


@pytest.mark.parametrize(
    ("effect", "candidate_rate", "primary_rate", "harms", "batches"),
    [
        ("error_rate_1_to_2_percent", 0.02, 0.01, "higher", 1_200),
        ("accuracy_90_to_85_percent", 0.85, 0.90, "lower", 400),
        ("output_share_60_to_45_percent", 0.45, 0.60, "either", 200),
        ("output_share_60_to_45_percent", 0.75, 0.60, "either", 200),  # 15 points the other way
    ],
)
def test_with_a_canary_s_four_guards_harm_is_rolled_back_within_the_stated_requests(
    effect: str, candidate_rate: float, primary_rate: float, harms: Harm, batches: int
) -> None:
    stated = CANARY_REQUESTS_TO_DETECT[effect]
    runs = canary_runs(
        seed=5, batches=batches, candidate_rate=candidate_rate, primary_rate=primary_rate
    )
    tolerance = 0.05 if harms == "either" else 0.0
    at = canary_requests_at_rollback(runs, harmful_looks(runs, tolerance, harms, guards=4))
    assert runs.candidate_n[:, -1].min() > stated
    assert (at <= stated).mean() >= 0.95


@pytest.mark.parametrize("candidate_rate", [0.60, 0.55, 0.65], ids=["same", "down", "up"])
def test_an_output_share_moved_at_most_the_tolerance_is_rolled_back_in_at_most_alpha_of_runs(
    candidate_rate: float,
) -> None:
    runs = canary_runs(seed=6, batches=400, candidate_rate=candidate_rate, primary_rate=0.60)
    assert harmful_looks(runs, 0.05, "either").any(axis=1).mean() <= ALPHA


def test_an_either_guard_shows_a_fall_as_harm_as_well_as_a_rise() -> None:
    output = Guard("output", "either", tolerance=0.05)
    fall = decide([(output, ArmCounts(1_000, 450), ArmCounts(9_000, 5_400))])
    rise = decide([(output, ArmCounts(1_000, 750), ArmCounts(9_000, 5_400))])
    still = decide([(output, ArmCounts(1_000, 610), ArmCounts(9_000, 5_400))])
    assert (fall.verdict, rise.verdict, still.verdict) == ("rollback", "rollback", "advance")
    assert fall.guards[0].high < -0.05 < 0.05 < rise.guards[0].low
    assert fall.guards[0].difference == pytest.approx(0.45 - 0.60)
    assert fall.guards[0].statistic >= fall.guards[0].threshold


def test_decide_rolls_back_at_the_same_look_as_the_simulation() -> None:
    runs = canary_runs(seed=4, batches=300, candidate_rate=0.85, primary_rate=0.90)
    harmful = harmful_looks(runs, harms="lower")
    for run in range(10):
        first = int(harmful[run].argmax())
        assert first > 0 and harmful[run, first]
        for look, verdict in [(first - 1, "hold"), (first, "rollback")]:
            candidate = ArmCounts(
                int(runs.candidate_n[run, look]), int(runs.candidate_events[run, look])
            )
            primary = ArmCounts(int(runs.primary_n[run, look]), int(runs.primary_events[run, look]))
            assert decide([(ACCURACY, candidate, primary)], ALPHA, 10**6).verdict == verdict


# --- the arithmetic against independent references -------------------------------------


@pytest.mark.parametrize(
    ("difference", "variance", "tau2"),
    [(0.0, 1.0, 1.0), (0.012, 4e-6, 1e-4), (-0.03, 2e-4, 1e-3), (0.05, 1e-4, 2e-5)],
)
def test_the_mixture_ratio_equals_the_likelihood_ratio_integrated_over_the_mixing_distribution(
    difference: float, variance: float, tau2: float
) -> None:
    sd, tau = math.sqrt(variance), math.sqrt(tau2)

    def weighted_ratio(theta: float) -> float:
        ratio = stats.norm.pdf(difference, theta, sd) / stats.norm.pdf(difference, 0.0, sd)
        return float(ratio * stats.norm.pdf(theta, 0.0, tau))

    reach = 12 * tau
    integral, _ = integrate.quad(weighted_ratio, -reach, reach, points=[difference], limit=200)
    assert float(log_mixture_ratio(difference, variance, tau2)) == pytest.approx(
        math.log(integral), abs=1e-7
    )


def test_the_interval_is_where_the_mixture_ratio_stays_below_one_over_alpha() -> None:
    rng = np.random.default_rng(5)
    nc = rng.integers(200, 5_000, 300)  # enough that no end is cut at -1 or 1
    np_ = rng.integers(200, 50_000, 300)
    xc, xp = rng.binomial(nc, 0.03), rng.binomial(np_, 0.02)
    estimate, low, high = harm_interval(nc, xc, np_, xp, ALPHA)
    _, v, tau2 = sequential._moments(*sequential._counts(nc, xc, np_, xp))
    for end in (low, high):
        assert np.allclose(log_mixture_ratio(estimate - end, v, tau2), math.log(1 / ALPHA))


def test_the_interval_covers_the_true_difference_at_every_look_in_at_least_1_minus_alpha_of_runs() -> (
    None
):
    runs = canary_runs(seed=6, batches=400, candidate_rate=0.03, primary_rate=0.02)
    _, low, high = harm_interval(
        runs.candidate_n, runs.candidate_events, runs.primary_n, runs.primary_events, ALPHA
    )
    missed = ((low > 0.01) | (high < 0.01)).any(axis=1)
    assert missed.mean() <= ALPHA


def test_a_harm_of_the_smallest_detectable_size_is_shown_by_one_look_with_the_stated_power() -> (
    None
):
    rng = np.random.default_rng(7)
    cases: list[tuple[int, float, Harm]] = [(4_000, 0.01, "higher"), (1_000, 0.90, "lower")]
    for n_candidate, baseline, harms in cases:
        n_primary = 9 * n_candidate
        delta = smallest_detectable(n_candidate, n_primary, baseline, ALPHA, harm=harms)
        harm_rate = baseline if harms == "higher" else 1 - baseline
        xc = rng.binomial(n_candidate, harm_rate + delta, 4_000)
        xp = rng.binomial(n_primary, harm_rate, 4_000)
        shown = harm_interval(n_candidate, xc, n_primary, xp, ALPHA)[1] > 0
        assert shown.mean() == pytest.approx(0.95, abs=0.015)


def test_the_smallest_detectable_harm_shrinks_as_requests_grow() -> None:
    sizes = [100, 1_000, 10_000, 100_000]
    detectable = [smallest_detectable(n, 9 * n, 0.01) for n in sizes]
    assert detectable == sorted(detectable, reverse=True)
    assert detectable[-1] < 0.003
    assert smallest_detectable(0, 1_000, 0.01) == math.inf
    assert smallest_detectable(1_000, 9_000, 0.01, tolerance=0.005) > detectable[1]


# --- decisions ------------------------------------------------------------------------


def test_without_requests_the_decision_is_hold_with_no_evidence() -> None:
    decision = decide([(ERRORS, ArmCounts(0, 0), ArmCounts(0, 0))])
    assert decision.verdict == "hold"
    (result,) = decision.guards
    assert (result.difference, result.low, result.high) == (0.0, -1.0, 1.0)
    assert result.statistic == 1.0
    assert result.detectable == math.inf
    assert decision.reason == (
        "hold: no guard shows harm, but error_rate has 0 canary observations of the 1,000 needed"
    )


def test_a_candidate_failing_every_request_is_rolled_back_within_a_few_requests() -> None:
    assert decide([(ERRORS, ArmCounts(3, 3), ArmCounts(27, 0))]).verdict == "hold"
    decision = decide([(ERRORS, ArmCounts(10, 10), ArmCounts(90, 1))])
    assert decision.verdict == "rollback"
    assert decision.reason.startswith("rollback: error_rate 100.00% against 1.11%, +98.89 points")


def test_both_arms_failing_every_request_show_no_harm_of_the_candidate() -> None:
    few = decide([(ERRORS, ArmCounts(50, 50), ArmCounts(450, 450))])
    assert few.verdict == "hold"
    assert few.guards[0].difference == 0.0
    many = decide([(ERRORS, ArmCounts(2_000, 2_000), ArmCounts(18_000, 18_000))])
    assert many.verdict == "advance"


def test_no_harm_holds_below_min_requests_and_advances_from_there() -> None:
    def verdict(n: int) -> str:
        return decide([(ERRORS, ArmCounts(n, n // 100), ArmCounts(9 * n, 9 * n // 100))]).verdict

    assert [verdict(n) for n in (100, 999, 1_000, 5_000)] == ["hold", "hold", "advance", "advance"]


def test_an_accuracy_guard_reports_on_the_accuracy_scale() -> None:
    decision = decide([(ACCURACY, ArmCounts(2_000, 1_700), ArmCounts(18_000, 16_200))])
    assert decision.verdict == "rollback"
    (result,) = decision.guards
    assert result.difference == pytest.approx(-0.05)
    assert result.low < result.difference < result.high < 0
    assert result.statistic >= result.threshold == 1 / ALPHA
    assert decision.reason.startswith("rollback: accuracy 85.00% against 90.00%, -5.00 points")


def test_harm_is_shown_exactly_when_the_statistic_reaches_the_threshold() -> None:
    rng = np.random.default_rng(8)
    guard = Guard("error_rate", "higher", tolerance=0.002)
    shown = 0
    for _ in range(200):
        n = int(rng.integers(200, 5_000))
        candidate = ArmCounts(n, int(rng.binomial(n, 0.02)))
        primary = ArmCounts(9 * n, int(rng.binomial(9 * n, 0.01)))
        (result,) = decide([(guard, candidate, primary)]).guards
        assert result.harmful == (result.statistic >= result.threshold)
        shown += result.harmful
    assert 20 < shown < 180  # both sides of the threshold were tried


def test_k_guards_spend_alpha_over_k_each_and_any_harm_rolls_back() -> None:
    latency = Guard("slow_share", "higher", tolerance=0.02)
    fine = (ERRORS, ArmCounts(5_000, 50), ArmCounts(45_000, 450))
    slow = (latency, ArmCounts(5_000, 500), ArmCounts(45_000, 2_250))
    decision = decide([fine, slow], alpha=0.06)
    assert decision.verdict == "rollback"
    assert [r.threshold for r in decision.guards] == pytest.approx([2 / 0.06, 2 / 0.06])
    assert [r.harmful for r in decision.guards] == [False, True]
    assert "always-valid 97% interval" in decision.reason
    alone = decide([fine], alpha=0.06).guards[0]
    assert alone.high - alone.low < decision.guards[0].high - decision.guards[0].low


def test_the_latency_guard_counts_requests_slower_than_a_fixed_threshold() -> None:
    rng = np.random.default_rng(9)
    before = rng.lognormal(3.0, 0.4, 20_000)
    threshold = float(np.quantile(before, 0.95))
    primary = slower_than(rng.lognormal(3.0, 0.4, 18_000), threshold)
    candidate = slower_than(rng.lognormal(3.2, 0.4, 2_000), threshold)  # about 22% slower
    assert (primary.n, candidate.n) == (18_000, 2_000)
    assert primary.rate == pytest.approx(0.05, abs=0.01)
    verdict = decide([(Guard("slow_share", "higher", 0.02), candidate, primary)]).verdict
    assert verdict == "rollback"


# --- mistakes ---------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1, math.nan, True])
def test_an_alpha_outside_0_to_1_is_refused_with_the_value_and_the_range(alpha: float) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^decide: alpha=.+ is not allowed; alpha must be in \(0, 1\), e\.g\. 0\.05$",
    ):
        decide([(ERRORS, ArmCounts(10, 0), ArmCounts(90, 1))], alpha=alpha)


@pytest.mark.parametrize("tolerance", [-0.01, 1.0, math.inf])
def test_a_tolerance_outside_0_to_1_is_refused(tolerance: float) -> None:
    message = rf"^guard 'error_rate': tolerance={tolerance!r} is not allowed; tolerance must be in \[0, 1\), e\.g\. 0\.005$"
    with pytest.raises(ConfigError, match=message):
        Guard("error_rate", "higher", tolerance)


def test_mistaken_guards_counts_and_options_name_the_value_and_what_is_allowed() -> None:
    with pytest.raises(ConfigError, match=r"harm='up' is not allowed; harm must be 'higher'"):
        Guard("error_rate", "up")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^guard name '' is not allowed; give a non-empty name$"):
        Guard("", "higher")
    with pytest.raises(DataError, match=r"^counts n=10, events=11 are not allowed; both must"):
        ArmCounts(10, 11)
    with pytest.raises(DataError, match=r"counts n=-1, events=0 are not allowed"):
        ArmCounts(-1, 0)
    with pytest.raises(ConfigError, match=r"^decide: min_requests=0 is not allowed; .* >= 1$"):
        decide([(ERRORS, ArmCounts(10, 0), ArmCounts(90, 1))], min_requests=0)
    with pytest.raises(
        ConfigError, match=r"^guard 'error_rate' is given twice; give each guard once$"
    ):
        decide([(ERRORS, ArmCounts(10, 0), ArmCounts(90, 1))] * 2)
    with pytest.raises(ConfigError, match=r"^decide needs at least one"):
        decide([])
    with pytest.raises(DataError, match=r"^counts candidate 5 with 6 events, primary 9 with 0"):
        harm_interval([10, 5], [0, 6], 9, 0)
    with pytest.raises(ConfigError, match=r"^smallest_detectable: power=1 is not allowed"):
        smallest_detectable(100, 900, 0.01, power=1)
    assert issubclass(ConfigError, ProdmlError) and issubclass(DataError, ProdmlError)


def test_the_module_lists_its_public_names_sorted_and_each_exists() -> None:
    listed = sequential.__all__
    assert listed == sorted(listed, key=lambda n: (not n.isupper(), n))
    assert all(hasattr(sequential, name) for name in listed)
