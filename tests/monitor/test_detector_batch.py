"""The detectors read arrays with numpy; here each is checked against a straightforward
reference that reads one value at a time (the textbook recurrences, as prodml computed
them before), on seeded streams with and without changes: the same detections at the
same values, and the same state after them. And however a stream is cut into arrays, or
saved and resumed between them, the detections and the state are the same to the bit."""

from __future__ import annotations

import collections
import json
import math
from typing import Any

import numpy as np
import pytest

from prodml.monitor.detectors import ADWIN, Detection, PageHinkley


class ReferencePageHinkley:
    """PH_T = max(0, alpha PH_{T-1} + x_T - x̄_T - delta), one value at a time; the start of
    a change: the least-squares split of the values since the last time PH_T was 0."""

    def __init__(self, detector: PageHinkley) -> None:
        self.d = detector.delta
        self.threshold, self.alpha = detector.threshold, detector.alpha
        self.min_instances, self.memory = detector.min_instances, detector.memory
        self.seen = 0
        self.restart()

    def restart(self) -> None:
        self.count, self.total, self.statistic, self.fired = 0, 0.0, 0.0, False
        self.recent: collections.deque[float] = collections.deque()
        self.before_count, self.before_total = 0, 0.0

    def update(self, x: float) -> Detection | None:
        if self.fired:
            self.restart()
        index = self.seen
        self.seen += 1
        self.count += 1
        self.total += x
        statistic = self.alpha * self.statistic + (x - self.total / self.count - self.d)
        if statistic <= 0.0:
            statistic = 0.0
            self.before_count, self.before_total = self.count, self.total
            self.recent.clear()
        else:
            if len(self.recent) == self.memory:
                self.before_count += 1
                self.before_total += self.recent.popleft()
            self.recent.append(x)
        self.statistic = statistic
        if self.count >= self.min_instances and statistic > self.threshold:
            self.fired = True
            return Detection("page_hinkley", index, index + 1 - len(self.recent) + self.split())
        return None

    def split(self) -> int:
        n0, u0, best, best_k = self.before_count, self.before_total, 0.0, 0
        for k, x in enumerate(self.recent):
            if n0:
                gap = (self.total - u0) / (self.count - n0) - u0 / n0
                if gap > 0 and gap * gap * n0 * (self.count - n0) > best:
                    best, best_k = gap * gap * n0 * (self.count - n0), k
            n0, u0 = n0 + 1, u0 + x
        return best_k


class ReferenceADWIN:
    """ADWIN with exponential histograms, one value at a time: a value inserted, buckets
    merged, and every ``clock`` values each split at a bucket boundary tested."""

    def __init__(self, detector: ADWIN) -> None:
        self.delta, self.clock = detector.delta, detector.clock
        self.min_window, self.max_buckets = detector.min_window, detector.max_buckets
        self.seen = self.width = 0
        self.total = self.squares = 0.0
        self.totals: list[list[float]] = [[]]
        self.squares_of: list[list[float]] = [[]]

    def update(self, x: float) -> Detection | None:
        index = self.seen
        self.seen += 1
        if self.width:
            deviation = x - self.total / self.width
            self.squares += self.width * deviation * deviation / (self.width + 1)
        self.width += 1
        self.total += x
        self.totals[0].append(x)
        self.squares_of[0].append(0.0)
        row = 0
        while len(self.totals[row]) > self.max_buckets:
            size = 1 << row
            older, newer = self.totals[row][0], self.totals[row][1]
            gap = (older - newer) / size
            merged = self.squares_of[row][0] + self.squares_of[row][1] + size * gap * gap / 2.0
            del self.totals[row][:2], self.squares_of[row][:2]
            if row + 1 == len(self.totals):
                self.totals.append([])
                self.squares_of.append([])
            self.totals[row + 1].append(older + newer)
            self.squares_of[row + 1].append(merged)
            row += 1
        if self.seen % self.clock or self.width < 2 * self.min_window:
            return None
        best = self.split()
        if best is None:
            return None
        kept = self.width - best
        while self.width > kept:
            self.drop_oldest()
        while self.width >= 2 * self.min_window and self.split() is not None:
            self.drop_oldest()
        return Detection("adwin", index, self.seen - self.width)

    def split(self) -> int | None:
        variance = self.squares / self.width
        log_term = math.log(2.0 * math.log(self.width) / self.delta)
        shift = self.min_window - 1
        significant, best, best_n0 = False, -1.0, 0
        n0, u0 = 0, 0.0
        for row in range(len(self.totals) - 1, -1, -1):
            for bucket in self.totals[row]:
                n0, u0 = n0 + (1 << row), u0 + bucket
                n1 = self.width - n0
                if n1 < self.min_window:
                    return best_n0 if significant else None
                if n0 < self.min_window:
                    continue
                gap = abs(u0 / n0 - (self.total - u0) / n1)
                if gap * gap * n0 * n1 > best:
                    best, best_n0 = gap * gap * n0 * n1, n0
                m_recip = 1.0 / (n0 - shift) + 1.0 / (n1 - shift)
                bound = (
                    math.sqrt(2.0 * m_recip * variance * log_term) + 2.0 / 3.0 * log_term * m_recip
                )
                significant = significant or gap > bound
        return best_n0 if significant else None

    def drop_oldest(self) -> None:
        row = len(self.totals) - 1
        size = 1 << row
        total, squares = self.totals[row].pop(0), self.squares_of[row].pop(0)
        self.width -= size
        self.total -= total
        gap = total / size - self.total / self.width
        combined = squares + size * self.width * gap * gap / (size + self.width)
        self.squares = max(0.0, self.squares - combined)
        while len(self.totals) > 1 and not self.totals[-1]:
            self.totals.pop()
            self.squares_of.pop()


def stream(kind: str, seed: int) -> np.ndarray:
    """Seeded error streams of 60,000 values (0s and 1s), and one of Gaussian values."""
    rng = np.random.default_rng(seed)
    rates = {
        "stable 1%": [0.01] * 3,
        "stable 17%": [0.17] * 3,
        "stable 30%": [0.3] * 3,
        "rises": [0.1, 0.4, 0.7],
        "rise and fall": [0.05, 0.3, 0.1],
    }
    if kind == "gaussian":
        return np.concatenate([rng.normal(mean, 1.0, 20_000) for mean in (0.0, 0.5, 0.0)])
    return np.concatenate([rng.random(20_000) < rate for rate in rates[kind]]).astype(float)


KINDS = ["stable 1%", "stable 17%", "stable 30%", "rises", "rise and fall", "gaussian"]
SETTINGS = [
    (PageHinkley, {}),
    (PageHinkley, {"threshold": 20.0}),
    (PageHinkley, {"alpha": 1 - 1e-4, "threshold": 50.0}),
    (PageHinkley, {"alpha": 0.99, "threshold": 3.0, "delta": 0.0, "memory": 100}),
    (ADWIN, {}),
    (ADWIN, {"clock": 1, "max_buckets": 2}),
    (ADWIN, {"clock": 7, "max_buckets": 1, "min_window": 1, "delta": 0.05}),
]
IDS = [f"{make.__name__}{options}" for make, options in SETTINGS]


def reference_of(detector: PageHinkley | ADWIN) -> ReferencePageHinkley | ReferenceADWIN:
    if isinstance(detector, PageHinkley):
        return ReferencePageHinkley(detector)
    return ReferenceADWIN(detector)


def same_state(detector: PageHinkley | ADWIN, reference: Any) -> None:
    """The detector's saved state holds what the reference has read."""
    read = detector.state()["read"]
    if isinstance(reference, ReferencePageHinkley):
        assert (read["_seen"], read["_count"], read["_fired"]) == (
            reference.seen,
            reference.count,
            reference.fired,
        )
        assert read["_recent"] == list(reference.recent)
        assert read["_before_count"] == reference.before_count
        for mine, theirs in [
            (read["_total"], reference.total),
            (read["_before_total"], reference.before_total),
            (read["_statistic"], reference.statistic),
        ]:
            assert mine == pytest.approx(theirs, rel=1e-9, abs=1e-9)
    else:
        assert (read["_seen"], read["_width"]) == (reference.seen, reference.width)
        assert [len(row) for row in read["_totals"]] == [len(row) for row in reference.totals]
        assert np.allclose(np.concatenate(read["_totals"]), np.concatenate(reference.totals))
        assert np.allclose(
            np.concatenate(read["_squares_of"]), np.concatenate(reference.squares_of), atol=1e-6
        )
        assert read["_total"] == pytest.approx(reference.total, abs=1e-9)
        assert read["_squares"] == pytest.approx(reference.squares, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(("make", "options"), SETTINGS, ids=IDS)
@pytest.mark.parametrize("kind", KINDS)
def test_reading_arrays_finds_what_reading_one_value_at_a_time_finds(
    make: type[PageHinkley | ADWIN], options: dict[str, Any], kind: str
) -> None:
    values = stream(kind, seed=len(kind))
    detector = make(**options)
    reference = reference_of(detector)

    found = detector.read(values)
    expected = [d for d in map(reference.update, values.tolist()) if d is not None]

    assert found == expected
    if kind.startswith("stable") and not options:
        assert found == []  # the defaults raise no false alarm on these
    if kind in ("rises", "rise and fall") and not options:
        assert found  # and find the changes
    same_state(detector, reference)


@pytest.mark.parametrize(("make", "options"), SETTINGS, ids=IDS)
@pytest.mark.parametrize("kind", ["rises", "stable 30%", "gaussian"])
def test_a_stream_cut_into_arrays_and_resumed_between_them_reads_the_same(
    make: type[PageHinkley | ADWIN], options: dict[str, Any], kind: str
) -> None:
    values = stream(kind, seed=3)[10_000:30_000]
    whole = make(**options)
    found_whole = whole.read(values)
    cuts = np.sort(np.random.default_rng(5).choice(values.size, 40, replace=False))

    found: list[Detection] = []
    saved: dict[str, Any] = {}
    parts = np.split(values, cuts)
    for k, part in enumerate(parts):
        resumed = make(**options)
        if k:  # a new process each time, carrying on from the state the last one saved
            assert resumed.restore(json.loads(json.dumps(saved)))
        # some values one at a time (update), the rest in one array (read)
        found += [d for d in map(resumed.update, part[: 100 * (k % 2)]) if d is not None]
        found += resumed.read(part[100 * (k % 2) :])
        saved = resumed.state()

    assert found == found_whole
    assert saved == whole.state()  # to the bit


@pytest.mark.parametrize("make", [PageHinkley, ADWIN])
def test_a_state_of_other_fields_is_refused_and_the_stream_read_again(
    make: type[PageHinkley | ADWIN],
) -> None:
    detector = make()
    detector.read(stream("rises", 1)[:1_000])
    older = detector.state()
    older["read"]["_mean"] = older["read"].pop("_seen")  # a field this prodml does not keep

    assert not make().restore(older)
