"""The detectors keep the false-alarm rates and delays their docstrings promise, on seeded
Bernoulli error streams.

False alarms: a detector that keeps a promise of r per million raises, in n stable
values, a count whose mean is at most r n / 1e6 (alarms are rare and far apart: Poisson).
Each test allows up to that Poisson's 99.9th percentile, so a detector that keeps its
promise fails a seed at most once in 1,000; one that broke it by 10x (river's forgetting
raised 3.5 per million at 10% and 15 at 30%) fails at once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from prodml.monitor.detectors import ADWIN, Detector, PageHinkley, scan

#: false alarms per million stable values the docstrings promise, at each error rate
PROMISED = {
    "page_hinkley": {0.01: 0.1, 0.10: 0.1, 0.30: 2.0},
    "adwin": {0.01: 0.5, 0.10: 0.5, 0.30: 0.5},
}
#: values read at each rate: about 2 seconds of each detector
LENGTH = {"page_hinkley": 4_000_000, "adwin": 1_000_000}
#: the docstrings' delay on a rise from 10% to 40%: 95th percentile, the most of 500 streams
DELAY = {"page_hinkley": (387, 441), "adwin": (89, 119)}
CHANGE = 5_000


def false_alarms(detector: Detector, rate: float, length: int, seed: int) -> int:
    """Alarms raised on ``length`` values of a stable error rate, read a million at a time
    (as the monitor reads a pass's labels: :meth:`Detector.read`)."""
    rng = np.random.default_rng(seed)
    count = 0
    for start in range(0, length, 1_000_000):
        chunk = (rng.random(min(1_000_000, length - start)) < rate).astype(float)
        count += len(detector.read(chunk))
    return count


@pytest.mark.parametrize("make", [PageHinkley, ADWIN])
@pytest.mark.parametrize("rate", [0.01, 0.10, 0.30])
def test_a_stable_error_rate_raises_no_more_false_alarms_than_promised(
    make: Callable[[], Detector], rate: float
) -> None:
    detector = make()
    length = LENGTH[detector.name]
    allowed = stats.poisson.ppf(0.999, PROMISED[detector.name][rate] * length / 1e6)

    assert false_alarms(detector, rate, length, seed=int(rate * 100)) <= allowed


@pytest.mark.parametrize("make", [PageHinkley, ADWIN])
def test_a_rise_from_10_to_40_percent_is_found_within_the_documented_delay(
    make: Callable[[], Detector],
) -> None:
    percentile_95, most = DELAY[make().name]
    delays = []
    for seed in range(100):
        rng = np.random.default_rng(seed)
        values = np.concatenate([rng.random(CHANGE) < 0.1, rng.random(CHANGE) < 0.4])
        found = scan(make(), values.astype(float).tolist())
        assert found, seed  # every change found within 5,000 values
        assert found[0].detected_at >= CHANGE, seed  # and nothing before it
        delays.append(found[0].detected_at - CHANGE)

    # with the documented delays, fewer than 88 of 100 within the 95th percentile has a
    # probability of 0.1%, and more than 2 beyond the most of 500 streams less than 0.2%
    assert sum(d <= percentile_95 for d in delays) >= 88
    assert sum(d > most for d in delays) <= 2
