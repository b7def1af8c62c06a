"""Streaming change detectors: one suite run over every detector, then checks of each
detector's own arithmetic against values worked out by hand."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from prodml.errors import ConfigError, DataError
from prodml.monitor.detectors import ADWIN, Detection, Detector, PageHinkley, scan

Make = Callable[..., Detector]
DETECTORS = pytest.mark.parametrize("make", [PageHinkley, ADWIN])

CHANGE = 5_000
MAX_DELAY = 450  # values after the change by which it must be found (Page-Hinkley: 441 of 500)
START_TOLERANCE = 150  # how far started_at may miss the change


def bernoulli(seed: int, *parts: tuple[float, int]) -> list[float]:
    """An error stream: ``(rate, length)`` parts, one after the other."""
    rng = np.random.default_rng(seed)
    values: list[bool] = np.concatenate([rng.random(n) < rate for rate, n in parts]).tolist()
    return [float(v) for v in values]


def ramp(seed: int) -> list[float]:
    """Rate 0.1 up to index 5,000, rising linearly to 0.4 by 7,000, then 0.4 to 10,000."""
    rates = np.concatenate([np.full(5_000, 0.1), np.linspace(0.1, 0.4, 2_000), np.full(3_000, 0.4)])
    values: list[bool] = (np.random.default_rng(seed).random(rates.size) < rates).tolist()
    return [float(v) for v in values]


# --- one suite for every detector ------------------------------------------------------


@DETECTORS
def test_a_detector_follows_the_protocol(make: Make) -> None:
    detector = make()
    assert isinstance(detector, Detector)
    assert detector.name in {"page_hinkley", "adwin"}


@DETECTORS
@pytest.mark.parametrize("seed", range(5))
def test_a_stable_error_rate_raises_no_alarm(make: Make, seed: int) -> None:
    assert scan(make(), bernoulli(seed, (0.1, 20_000))) == []


@DETECTORS
@pytest.mark.parametrize("seed", range(5))
def test_an_abrupt_rise_is_found_soon_after_it_and_dated_near_it(make: Make, seed: int) -> None:
    found = scan(make(), bernoulli(seed, (0.1, CHANGE), (0.4, CHANGE)))

    assert len(found) == 1
    assert CHANGE <= found[0].detected_at <= CHANGE + MAX_DELAY
    assert abs(found[0].started_at - CHANGE) <= START_TOLERANCE


@DETECTORS
@pytest.mark.parametrize("seed", range(3))
def test_a_gradual_rise_is_found_after_it_begins_and_not_before(make: Make, seed: int) -> None:
    found = scan(make(), ramp(seed))

    assert found
    first = found[0]
    assert CHANGE < first.detected_at <= 7_000
    assert CHANGE - START_TOLERANCE <= first.started_at <= first.detected_at


@DETECTORS
@pytest.mark.parametrize("seed", range(3))
def test_two_changes_in_one_stream_are_both_found(make: Make, seed: int) -> None:
    values = bernoulli(seed, (0.1, CHANGE), (0.4, CHANGE), (0.7, CHANGE))

    found = scan(make(), values)

    assert len(found) == 2
    for detection, change in zip(found, [CHANGE, 2 * CHANGE], strict=True):
        assert change <= detection.detected_at <= change + MAX_DELAY
        assert abs(detection.started_at - change) <= START_TOLERANCE


@DETECTORS
def test_update_reports_a_detection_at_the_value_that_raised_it(make: Make) -> None:
    values = bernoulli(0, (0.1, CHANGE), (0.4, CHANGE))
    detector = make()

    answers = [detector.update(value) for value in values]

    found = [(i, answer) for i, answer in enumerate(answers) if answer is not None]
    assert len(found) == 1
    index, detection = found[0]
    assert detection.detected_at == index
    assert detection.delay == detection.detected_at - detection.started_at > 0
    assert detection.to_dict() == {
        "detector": detector.name,
        "detected_at": detection.detected_at,
        "started_at": detection.started_at,
    }


@DETECTORS
def test_reset_gives_a_fresh_detector(make: Make) -> None:
    values = bernoulli(1, (0.1, CHANGE), (0.4, CHANGE))
    used = make()
    for value in bernoulli(2, (0.3, 3_000), (0.8, 500)):
        used.update(value)

    used.reset()

    again = [d for d in map(used.update, values) if d is not None]
    assert again == scan(make(), values)
    assert again[0].detected_at < len(values)


@DETECTORS
def test_scan_starts_from_a_fresh_detector(make: Make) -> None:
    values = bernoulli(3, (0.1, CHANGE), (0.4, CHANGE))
    detector = make()

    assert scan(detector, values) == scan(detector, values) == scan(make(), values)


@DETECTORS
@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf, "0.1"])
def test_a_delta_out_of_range_is_a_config_error_naming_it(make: Make, bad: object) -> None:
    with pytest.raises(
        ConfigError, match=rf"^{make.__name__}: delta={bad!r} is not allowed; delta must be "
    ):
        make(delta=bad)


@DETECTORS
def test_a_value_that_is_not_finite_is_a_data_error_naming_its_index(make: Make) -> None:
    detector = make()
    detector.update(0.0)

    with pytest.raises(DataError, match=r"got nan at index 1; the stream must hold finite numbers"):
        detector.update(math.nan)


# --- Page-Hinkley ------------------------------------------------------------------------


def test_page_hinkley_statistic_matches_a_hand_computation() -> None:
    detector = PageHinkley(delta=0.1, alpha=1.0, threshold=100.0, min_instances=1)
    # x:      0      1      0      1      1
    # mean:   0      1/2    1/3    1/2    3/5
    # m_T:   -0.1    0.3   -2/15   4/15   17/30     (m_T = m_{T-1} + x - mean - 0.1)
    # M_T:   -0.1   -0.1   -2/15  -2/15  -2/15
    expected = [0.0, 0.4, 0.0, 0.4, 0.7]

    statistics = []
    for value in [0.0, 1.0, 0.0, 1.0, 1.0]:
        assert detector.update(value) is None
        statistics.append(detector.statistic)

    assert statistics == pytest.approx(expected)


def test_page_hinkley_forgetting_factor_matches_a_hand_computation() -> None:
    detector = PageHinkley(delta=0.0, alpha=0.5, threshold=100.0, min_instances=1)
    # x: 1, 0, 1, 1 -> mean 1, 1/2, 2/3, 3/4; PH_T = max(0, 0.5 PH_{T-1} + x - mean):
    # PH: max(0, 0) = 0, max(0, -1/2) = 0, max(0, 1/3) = 1/3, max(0, 1/6 + 1/4) = 5/12
    statistics = []
    for value in [1.0, 0.0, 1.0, 1.0]:
        detector.update(value)
        statistics.append(detector.statistic)

    assert statistics == pytest.approx([0.0, 0.0, 1 / 3, 5 / 12])


def test_page_hinkley_forgetting_only_ever_lowers_the_statistic() -> None:
    # river forgets m_T but not its minimum: on a stable stream m_T settles near
    # -delta / (1 - alpha) while the minimum keeps falling, and the gap grows past the
    # statistic without forgetting. Here PH_T itself is shrunk, so it never does (but for
    # rounding: the two are summed in different forms).
    values = bernoulli(6, (0.3, 200_000))
    remembering = PageHinkley(alpha=1.0, threshold=1e9)
    forgetting = PageHinkley(alpha=1 - 1e-4, threshold=1e9)

    highest = 0.0
    for value in values:
        remembering.update(value)
        forgetting.update(value)
        assert forgetting.statistic <= remembering.statistic + 1e-12
        highest = max(highest, forgetting.statistic)

    assert 0.0 < highest < 100.0  # it moved, and never reached the default threshold


def test_page_hinkley_fires_past_the_threshold_and_dates_the_rise() -> None:
    detector = PageHinkley(delta=0.1, alpha=1.0, threshold=0.65, min_instances=1)

    found = scan(detector, [0.0, 1.0, 0.0, 1.0, 1.0])

    # PH_T is 0.7 > 0.65 first at index 4; the last minimum of m_T is at index 2, and of
    # the splits after it the one before index 3 separates the means best (1/3 | 1, 1).
    assert found == [Detection("page_hinkley", detected_at=4, started_at=3)]


def test_page_hinkley_waits_for_min_instances() -> None:
    values = [0.0] * 5 + [1.0] * 30
    early = scan(PageHinkley(threshold=5.0, min_instances=1), values)
    late = scan(PageHinkley(threshold=5.0, min_instances=25), values)

    assert early[0].detected_at < 24
    assert late[0].detected_at == 24


def test_page_hinkley_watches_rises_only() -> None:
    rise = [0.0] * 2_000 + [1.0] * 2_000
    fall = [1.0] * 2_000 + [0.0] * 5_000

    assert [d.started_at for d in scan(PageHinkley(), rise)] == [2_000]
    assert scan(PageHinkley(), fall) == []


def test_page_hinkley_dates_the_change_within_its_memory() -> None:
    found = scan(PageHinkley(memory=8), bernoulli(0, (0.1, CHANGE), (0.4, CHANGE)))

    assert 0 <= found[0].delay < 8


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"threshold": 0.0},
            r"PageHinkley: threshold=0.0 is not allowed; threshold must be a number > 0",
        ),
        ({"alpha": 0.0}, r"PageHinkley: alpha=0.0 is not allowed; alpha must be in \(0, 1\]"),
        ({"alpha": 1.01}, r"PageHinkley: alpha=1.01 is not allowed; alpha must be in \(0, 1\]"),
        ({"delta": -0.1}, r"PageHinkley: delta=-0.1 is not allowed; delta must be a number >= 0"),
        (
            {"min_instances": 0},
            r"PageHinkley: min_instances=0 is not allowed; min_instances must be a whole number >= 1",
        ),
        (
            {"min_instances": 2.5},
            r"PageHinkley: min_instances=2.5 is not allowed; .* whole number >= 1",
        ),
        (
            {"memory": 0},
            r"PageHinkley: memory=0 is not allowed; memory must be a whole number >= 1",
        ),
    ],
)
def test_page_hinkley_parameters_out_of_range(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PageHinkley(**options)


# --- ADWIN -------------------------------------------------------------------------------


def test_adwin_cut_bound_is_the_paper_formula() -> None:
    n0, n1, variance, delta = 100, 50, 0.09, 0.002
    # Bifet and Gavaldà 2007: m = 1 / (1/n0 + 1/n1), delta' = delta / ln(n) (ADWIN2),
    # eps_cut = sqrt(2/m * variance * ln(2/delta')) + 2/(3m) * ln(2/delta').
    m = 1 / (1 / n0 + 1 / n1)
    log_term = math.log(2 / (delta / math.log(n0 + n1)))
    paper = math.sqrt(2 / m * variance * log_term) + 2 / (3 * m) * log_term

    # m = 100/3, ln(2 ln(150) / 0.002) = ln(5010.6) = 8.519: 0.2145 + 0.1704
    assert paper == pytest.approx(0.3849, abs=1e-4)
    assert ADWIN(delta=delta, min_window=1).cut_bound(n0, n1, variance) == pytest.approx(paper)


def test_adwin_cut_bound_with_a_min_window_shortens_both_parts() -> None:
    # MOA and river: 1/m = 1/(n0 - min_window + 1) + 1/(n1 - min_window + 1).
    m = 1 / (1 / 96 + 1 / 46)
    log_term = math.log(2 * math.log(150) / 0.002)
    expected = math.sqrt(2 / m * 0.09 * log_term) + 2 / (3 * m) * log_term

    assert ADWIN(min_window=5).cut_bound(100, 50, 0.09) == pytest.approx(expected)


@pytest.mark.parametrize("max_buckets", [1, 2, 5])
def test_adwin_window_keeps_the_exact_mean_and_variance_in_few_buckets(max_buckets: int) -> None:
    values = np.random.default_rng(4).normal(3.0, 2.0, 10_000)
    detector = ADWIN(max_buckets=max_buckets)

    assert [detector.update(v) for v in values.tolist()] == [None] * len(values)

    assert detector.width == len(values)
    assert detector.mean == pytest.approx(values.mean(), rel=1e-12)
    assert detector.variance == pytest.approx(values.var(), rel=1e-9)
    # at most max_buckets buckets of each size 1, 2, 4, ...: logarithmic in the width
    assert detector.buckets <= max_buckets * math.log2(len(values))


@pytest.mark.parametrize("max_buckets", [1, 2, 5])
def test_adwin_keeps_only_the_values_after_the_change(max_buckets: int) -> None:
    values = bernoulli(0, (0.1, CHANGE), (0.4, CHANGE))
    detector = ADWIN(max_buckets=max_buckets)

    found = scan(detector, values)

    assert detector.width == len(values) - found[0].started_at
    assert detector.mean == pytest.approx(np.mean(values[found[0].started_at :]))


def test_adwin_finds_a_fall_in_the_error_rate_too() -> None:
    found = scan(ADWIN(), bernoulli(0, (0.4, CHANGE), (0.1, CHANGE)))

    assert len(found) == 1
    assert abs(found[0].started_at - CHANGE) <= START_TOLERANCE


def test_adwin_checks_every_clock_values() -> None:
    values = bernoulli(0, (0.1, CHANGE), (0.4, CHANGE))

    assert scan(ADWIN(clock=32), values)[0].detected_at % 32 == 31
    assert (
        scan(ADWIN(clock=1), values)[0].detected_at <= scan(ADWIN(clock=32), values)[0].detected_at
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delta": 1.0}, r"ADWIN: delta=1.0 is not allowed; delta must be in \(0, 1\)"),
        ({"clock": 0}, r"ADWIN: clock=0 is not allowed; clock must be a whole number >= 1"),
        (
            {"min_window": 0},
            r"ADWIN: min_window=0 is not allowed; min_window must be a whole number >= 1",
        ),
        (
            {"max_buckets": True},
            r"ADWIN: max_buckets=True is not allowed; max_buckets must be a whole number >= 1",
        ),
    ],
)
def test_adwin_parameters_out_of_range(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ADWIN(**options)
