"""Streaming change detectors for the error stream: Page-Hinkley and ADWIN.

Both take one value at a time (usually 1.0 for a wrong prediction and 0.0 for a right
one, as feedback arrives) and answer :class:`Detection` when the stream's mean has
changed, with the index where the change is estimated to have begun. Both follow one
:class:`Detector` protocol (``name``, ``update``, ``reset``, and ``state``/``restore``:
what it has read, as JSON, so that another process carries on where it stopped), and
:func:`scan` runs a whole sequence through one. After a detection a detector carries on
with what came after the change, so a later change is found too.

>>> import random
>>> rng = random.Random(7)
>>> errors = [float(rng.random() < 0.1) for _ in range(3000)]
>>> errors += [float(rng.random() < 0.5) for _ in range(3000)]
>>> [(d.started_at, d.detected_at) for d in scan(PageHinkley(), errors)]
[(3000, 3251)]
>>> scan(ADWIN(), errors)
[Detection(detector='adwin', detected_at=3071, started_at=2992)]
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from prodml.errors import ConfigError, DataError

__all__ = ["ADWIN", "Detection", "Detector", "PageHinkley", "scan"]


@dataclass(frozen=True, slots=True)
class Detection:
    """A change found by ``detector`` at value ``detected_at`` (0-based, counted from the
    detector's last reset), estimated to have begun at value ``started_at``."""

    detector: str
    detected_at: int
    started_at: int

    @property
    def delay(self) -> int:
        """Values seen from the estimated start of the change to its detection."""
        return self.detected_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Detector(Protocol):
    """What every streaming detector does; :func:`scan` and the alerts use only this."""

    @property
    def name(self) -> str: ...

    def update(self, value: float) -> Detection | None:
        """Take the next value; a :class:`Detection` if a change is found at it."""
        ...

    def reset(self) -> None:
        """Forget everything: the next value is index 0 of a fresh stream."""
        ...

    def state(self) -> dict[str, Any]:
        """Its settings and what it has read, JSON-ready."""
        ...

    def restore(self, state: dict[str, Any]) -> bool:
        """Carry on from ``state`` (of :meth:`state`): True, unless it was saved by a
        detector of other settings (then nothing changes)."""
        ...


class _Resumable:
    """``state`` and ``restore`` of a detector whose settings are its public attributes
    and whose reading is its private ones (numbers, lists of numbers, deques).

    >>> first, second = ADWIN(), ADWIN()
    >>> values = [float(i % 7 == 0) for i in range(500)] + [1.0] * 200
    >>> import json
    >>> _ = [first.update(v) for v in values[:400]]
    >>> second.restore(json.loads(json.dumps(first.state())))
    True
    >>> [second.update(v) for v in values[400:]] == [first.update(v) for v in values[400:]]
    True
    >>> ADWIN(delta=0.01).restore(first.state())
    False
    """

    def state(self) -> dict[str, Any]:
        fields = vars(self)
        return {
            "settings": {k: v for k, v in fields.items() if not k.startswith("_")},
            "read": {
                k: list(v) if isinstance(v, collections.deque) else v
                for k, v in fields.items()
                if k.startswith("_")
            },
        }

    def restore(self, state: dict[str, Any]) -> bool:
        if state.get("settings") != self.state()["settings"]:
            return False
        for key, value in state["read"].items():
            now = getattr(self, key)
            setattr(
                self, key, collections.deque(value) if isinstance(now, collections.deque) else value
            )
        return True


def scan(detector: Detector, values: Iterable[float]) -> list[Detection]:
    """Reset ``detector``, feed it ``values`` in order and return every detection.

    >>> scan(PageHinkley(), [0.0] * 100)
    []
    """
    detector.reset()
    found = []
    for value in values:
        detection = detector.update(value)
        if detection is not None:
            found.append(detection)
    return found


class PageHinkley(_Resumable):
    """The Page-Hinkley test (Page 1954) for an increase in the mean, e.g. the error rate.

    After value x_T, with x̄_T the mean of the values since the last (re)start,

        PH_T = max(0, alpha * PH_{T-1} + x_T - x̄_T - delta),

    and a change is signalled when PH_T exceeds ``threshold`` (lambda), once at least
    ``min_instances`` values were seen; then the test restarts from the next value. With
    ``alpha`` = 1 (the default) PH_T is the textbook m_T - min(m_1, ..., m_T), m_T the
    running sum of x_t - x̄_t - delta, as river's ``drift.PageHinkley`` computes it with
    ``mode="up"``. ``delta`` is the size of an increase to ignore. ``alpha`` < 1 shrinks
    the statistic at every value, so that old evidence fades. river shrinks m_T but not
    its minimum: in a stable stream m_T then settles near -delta / (1 - alpha) while the
    minimum keeps falling, so the gap between them crosses the threshold by chance, the
    more often the longer the stream (with river's alpha of 1 - 1e-4 and a threshold of
    100: 3.5 false alarms per million predictions at a 10% error rate, 15 at 30%).

    The default threshold is 100, twice river's: false alarms per million values of a
    stable error stream (20 million seeded Bernoulli values at each rate, alpha 1)

    ==========  =====  =====  =====  =====  =====
    error rate  1%     10%    17%    30%    50%
    ==========  =====  =====  =====  =====  =====
    100         0      0.05   0.35   1.75   3.45
    50          0      2.0    12     31     43
    ==========  =====  =====  =====  =====  =====

    as Siegmund's approximation for a random walk of variance σ² = p(1 - p) and drift
    -delta puts them: about σ²/(2 delta²) (e^x - x - 1) values between false alarms,
    x = 2 delta threshold / σ². Promised: at most 0.1 per million up to a 10% error
    rate, 2 at 30% (``tests/monitor/test_detector_rates.py`` checks 1%, 10% and 30%).
    The price is delay (values from a change to its detection, 500 seeded streams each):

    ===============  ======  ================  ======================
    rise             median  95th percentile   found within 5,000
    ===============  ======  ================  ======================
    10% to 20%       1,065   1,400             all
    10% to 40%       330     387               all (the most: 441)
    30% to 45%       631     845               all
    1% to 5%         3,923   4,762             92%
    ===============  ======  ================  ======================

    (half of these at a threshold of 50); :class:`ADWIN` finds each change sooner.

    ``started_at`` differs from the textbook estimate, the value just after the last
    time PH_T was zero. With a ``delta`` as small as river's, m_T in a stable stream is
    close to a random walk, so that point can lie thousands of values before the change
    (measured on Bernoulli error streams: 50 to 5,000 values early). Instead the
    detector keeps the values since then (at most ``memory`` of them; older ones only
    as a count and a sum) and takes, among them, the start of the increase that best
    splits the values since the restart into two means (the least-squares change
    point); with nothing to split it falls back to the textbook estimate.
    """

    name = "page_hinkley"

    def __init__(
        self,
        delta: float = 0.005,
        threshold: float = 100.0,
        alpha: float = 1.0,
        min_instances: int = 30,
        memory: int = 16_384,
    ) -> None:
        owner = type(self).__name__
        self.delta = _number(owner, "delta", delta, lambda v: v >= 0, "a number >= 0")
        self.threshold = _number(owner, "threshold", threshold, lambda v: v > 0, "a number > 0")
        self.alpha = _number(owner, "alpha", alpha, lambda v: 0 < v <= 1, "in (0, 1]")
        self.min_instances = _integer(owner, "min_instances", min_instances, 1)
        self.memory = _integer(owner, "memory", memory, 1)
        self.reset()

    @property
    def statistic(self) -> float:
        """PH_T after the last value (0.0 before any)."""
        return self._statistic

    def reset(self) -> None:
        self._seen = 0
        self._restart()

    def _restart(self) -> None:
        self._count = 0
        self._mean = 0.0
        self._statistic = 0.0
        self._fired = False
        # The values since the last minimum of m_T (at most ``memory`` of them), and the
        # number and total of those before them, for the change-point estimate.
        self._recent: collections.deque[float] = collections.deque()
        self._before_count = 0
        self._before_total = 0.0

    def update(self, value: float) -> Detection | None:
        x = _finite(self.name, value, self._seen)
        if self._fired:
            self._restart()
        index = self._seen
        self._seen += 1
        self._count += 1
        self._mean += (x - self._mean) / self._count
        statistic = self.alpha * self._statistic + (x - self._mean - self.delta)
        recent = self._recent
        if statistic <= 0.0:  # a new minimum of m_T
            statistic = 0.0
            self._before_count = self._count
            self._before_total = self._mean * self._count
            recent.clear()
        else:
            if len(recent) == self.memory:
                self._before_count += 1
                self._before_total += recent.popleft()
            recent.append(x)
        self._statistic = statistic
        if self._count >= self.min_instances and statistic > self.threshold:
            self._fired = True
            return Detection(self.name, index, index + 1 - len(recent) + self._split())
        return None

    def _split(self) -> int:
        """Offset in the recent values of the least-squares start of an increase."""
        n, total = self._count, self._mean * self._count
        n0, u0 = self._before_count, self._before_total
        best, best_k = 0.0, 0
        for k, x in enumerate(self._recent):
            if n0:
                gap = (total - u0) / (n - n0) - u0 / n0
                if gap > 0 and gap * gap * n0 * (n - n0) > best:
                    best, best_k = gap * gap * n0 * (n - n0), k
            n0 += 1
            u0 += x
        return best_k


class ADWIN(_Resumable):
    """ADWIN, adaptive windowing (Bifet and Gavaldà 2007), with exponential histograms.

    The window holds the values since the last change, summarised in buckets of 1, 2, 4,
    ... values (at most ``max_buckets`` of each size; the two oldest of a size merge into
    one of the next), keeping each bucket's total and variance. Every ``clock`` values,
    each split of the window at a bucket boundary into an older part W0 (n0 values) and a
    newer part W1 (n1 values), both at least ``min_window`` long, is tested: the means
    differ when |mean(W0) - mean(W1)| > ε_cut. With σ²_W the variance of the window,
    n = n0 + n1 and δ' = δ / ln(n) (the paper's ADWIN2 form, as MOA and river compute it),

        ε_cut = sqrt(2/m · σ²_W · ln(2/δ')) + 2/(3m) · ln(2/δ'),
        1/m = 1/(n0 - min_window + 1) + 1/(n1 - min_window + 1),

    which is the paper's m = 1/(1/n0 + 1/n1) when ``min_window`` is 1; like MOA and river
    the default of 5 makes the test stricter on short parts. Defaults are river's
    (``delta`` 0.002, ``clock`` 32, ``max_buckets`` 5, ``min_window_length`` 5). As in
    MOA, every bucket boundary is a candidate split (river skips the newest bucket of each
    size). ADWIN is two-sided: a fall in the error rate is a change too.

    One departure, on a detection: the paper, MOA and river drop the oldest bucket while
    some split differs, and stop as soon as none does. That leaves a tail of old values
    in the window (measured: 300 to 4,500 values before a change of 0.1 to 0.4), which
    later checks cut again, so one change raised three to six alarms and ``started_at``
    was far too early. Here the window is first cut at the split that best separates two
    means (the least-squares change point, at bucket resolution), then shrunk as in the
    paper. ``started_at`` is the first value of the window kept.

    False alarms per million values of a stable error stream, at the defaults (10
    million seeded Bernoulli values at each rate): 0 at 1%, 0.2 at 10%, 0.1 at 17%, 0.2
    at 30%, 0.5 at 50%; promised: at most 0.5 per million (checked at 1%, 10% and 30%
    by ``tests/monitor/test_detector_rates.py``). Delay (values from a change to its
    detection, 500 seeded streams each; every change found within 1,500 values):

    ===============  ======  ================
    change           median  95th percentile
    ===============  ======  ================
    10% to 20%       295     537
    10% to 40%       71      89 (the most: 119)
    30% to 45%       279     439
    1% to 5%         407     823
    ===============  ======  ================
    """

    name = "adwin"

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        min_window: int = 5,
        max_buckets: int = 5,
    ) -> None:
        owner = type(self).__name__
        self.delta = _number(owner, "delta", delta, lambda v: 0 < v < 1, "in (0, 1)")
        self.clock = _integer(owner, "clock", clock, 1)
        self.min_window = _integer(owner, "min_window", min_window, 1)
        self.max_buckets = _integer(owner, "max_buckets", max_buckets, 1)
        self.reset()

    @property
    def width(self) -> int:
        """Number of values in the window."""
        return self._width

    @property
    def mean(self) -> float:
        """Mean of the window (0.0 when empty)."""
        return self._total / self._width if self._width else 0.0

    @property
    def variance(self) -> float:
        """Variance σ²_W of the window (population form; 0.0 when empty)."""
        return self._squares / self._width if self._width else 0.0

    @property
    def buckets(self) -> int:
        """Number of buckets summarising the window: logarithmic in its width."""
        return sum(len(row) for row in self._totals)

    def reset(self) -> None:
        self._seen = 0
        self._width = 0
        self._total = 0.0
        self._squares = 0.0  # sum of squared deviations from the window mean
        # _totals[i] and _squares_of[i]: buckets of 2**i values, oldest first; a larger
        # size holds older values.
        self._totals: list[list[float]] = [[]]
        self._squares_of: list[list[float]] = [[]]

    def update(self, value: float) -> Detection | None:
        x = _finite(self.name, value, self._seen)
        index = self._seen
        self._seen += 1
        self._insert(x)
        if self._seen % self.clock or self._width < 2 * self.min_window:
            return None
        best = self._significant_split()
        if best is None:
            return None
        kept = self._width - best
        while self._width > kept:
            self._drop_oldest()
        while self._width >= 2 * self.min_window and self._significant_split() is not None:
            self._drop_oldest()
        return Detection(self.name, index, self._seen - self._width)

    def cut_bound(self, n0: int, n1: int, variance: float) -> float:
        """ε_cut for a split into ``n0`` older and ``n1`` newer values of a window whose
        variance is ``variance``."""
        return self._bound(n0, n1, variance, self._log_term(n0 + n1))

    def _log_term(self, width: int) -> float:
        return math.log(2.0 * math.log(width) / self.delta)

    def _bound(self, n0: int, n1: int, variance: float, log_term: float) -> float:
        shift = self.min_window - 1
        m_recip = 1.0 / (n0 - shift) + 1.0 / (n1 - shift)
        return math.sqrt(2.0 * m_recip * variance * log_term) + 2.0 / 3.0 * log_term * m_recip

    def _insert(self, x: float) -> None:
        width = self._width
        if width:
            deviation = x - self._total / width
            self._squares += width * deviation * deviation / (width + 1)
        self._width = width + 1
        self._total += x
        totals, squares = self._totals, self._squares_of
        totals[0].append(x)
        squares[0].append(0.0)
        row = 0
        while len(totals[row]) > self.max_buckets:
            size = 1 << row
            older, newer = totals[row][0], totals[row][1]
            gap = (older - newer) / size
            merged = squares[row][0] + squares[row][1] + size * gap * gap / 2.0
            del totals[row][:2], squares[row][:2]
            if row + 1 == len(totals):
                totals.append([])
                squares.append([])
            totals[row + 1].append(older + newer)
            squares[row + 1].append(merged)
            row += 1

    def _significant_split(self) -> int | None:
        """None if no split of the window differs by more than ε_cut; else n0 of the
        split that best separates two means."""
        width, total = self._width, self._total
        variance = self._squares / width
        log_term = self._log_term(width)
        significant = False
        best, best_n0 = -1.0, 0
        for n0, u0 in self._splits():
            n1 = width - n0
            gap = abs(u0 / n0 - (total - u0) / n1)
            if gap * gap * n0 * n1 > best:
                best, best_n0 = gap * gap * n0 * n1, n0
            if not significant and gap > self._bound(n0, n1, variance, log_term):
                significant = True
        return best_n0 if significant else None

    def _splits(self) -> Iterator[tuple[int, float]]:
        """(n0, total of W0) of each split with both parts at least ``min_window`` long."""
        least, last = self.min_window, self._width - self.min_window
        n0, u0 = 0, 0.0
        for row in range(len(self._totals) - 1, -1, -1):
            size = 1 << row
            for bucket in self._totals[row]:
                n0 += size
                u0 += bucket
                if n0 > last:
                    return
                if n0 >= least:
                    yield n0, u0

    def _drop_oldest(self) -> None:
        row = len(self._totals) - 1
        size = 1 << row
        total = self._totals[row].pop(0)
        squares = self._squares_of[row].pop(0)
        self._width -= size
        self._total -= total
        gap = total / size - self._total / self._width
        combined = squares + size * self._width * gap * gap / (size + self._width)
        self._squares = max(0.0, self._squares - combined)
        # With max_buckets=1 a merge empties a row, so rows below may be empty too.
        while len(self._totals) > 1 and not self._totals[-1]:
            self._totals.pop()
            self._squares_of.pop()


def _number(
    owner: str, name: str, value: float, ok: Callable[[float], bool], allowed: str
) -> float:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and ok(value)):
        raise ConfigError(f"{owner}: {name}={value!r} is not allowed; {name} must be {allowed}")
    return float(value)


def _integer(owner: str, name: str, value: int, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(
            f"{owner}: {name}={value!r} is not allowed; {name} must be a whole number >= {least}"
        )
    return value


def _finite(detector: str, value: float, index: int) -> float:
    x = float(value)
    if not math.isfinite(x):
        raise DataError(
            f"{detector} got {value!r} at index {index}; the stream must hold finite "
            "numbers (drop or fill missing feedback before it reaches the detector)"
        )
    return x
