"""Streaming change detectors for the error stream: Page-Hinkley and ADWIN.

Both read a stream of values (usually 1.0 for a wrong prediction and 0.0 for a right
one, as feedback arrives) and answer :class:`Detection` when the stream's mean has
changed, with the index where the change is estimated to have begun. Both follow one
:class:`Detector` protocol (``name``, ``read`` and ``update``, ``reset``, and
``state``/``restore``: what it has read, as JSON, so that another process carries on
where it stopped), and :func:`scan` runs a whole sequence through one. After a detection
a detector carries on with what came after the change, so a later change is found too.

``read`` takes an array of values at a time and works on it with numpy (a million
values in a fraction of a second, where one Python call a value took seconds);
``update`` is ``read`` of one value. Either way a detector finds the same changes at the
same values, whatever the stream's cut into arrays: the running sums are summed in the
stream's order, so the numbers are the same to the bit on an error stream (0s and 1s,
where every sum is exact) and agree to rounding on any other.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np

from prodml.errors import ConfigError, DataError

__all__ = ["ADWIN", "Detection", "Detector", "PageHinkley", "scan"]

#: Checks of ADWIN's window made at once (each over every bucket boundary), and values of
#: Page-Hinkley's read at once: enough to spend the time in numpy, not in Python.
_CHECKS, _MOST_BLOCK = 2048, 65_536


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

    def read(self, values: Sequence[float] | np.ndarray) -> list[Detection]:
        """Take the next values, in order; the detections among them."""
        ...

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
    """What both detectors share: ``update`` as ``read`` of one value, and ``state`` and
    ``restore`` of a detector whose settings are its public attributes and whose reading
    is its private ones (numbers, lists of numbers, deques).

    >>> first, second = ADWIN(), ADWIN()
    >>> values = [float(i % 7 == 0) for i in range(500)] + [1.0] * 200
    >>> import json
    >>> _ = first.read(values[:400])
    >>> second.restore(json.loads(json.dumps(first.state())))
    True
    >>> [second.update(v) for v in values[400:]] == [first.update(v) for v in values[400:]]
    True
    >>> ADWIN(delta=0.01).restore(first.state())
    False
    """

    def read(self, values: Sequence[float] | np.ndarray) -> list[Detection]:
        raise NotImplementedError

    def update(self, value: float) -> Detection | None:
        found = self.read([value])
        return found[0] if found else None

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
        """As the protocol says; a state of other fields (saved by an older prodml, which
        kept other sums) is refused the same way as one of other settings."""
        now = self.state()
        if state.get("settings") != now["settings"] or set(state["read"]) != set(now["read"]):
            return False
        for key, value in state["read"].items():
            setattr(
                self,
                key,
                collections.deque(value)
                if isinstance(getattr(self, key), collections.deque)
                else value,
            )
        return True


def scan(detector: Detector, values: Iterable[float]) -> list[Detection]:
    """Reset ``detector``, feed it ``values`` in order and return every detection.

    >>> scan(PageHinkley(), [0.0] * 100)
    []
    """
    detector.reset()
    return detector.read(values if isinstance(values, np.ndarray) else list(values))


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
        self._total = 0.0  # of the values since the last (re)start
        self._statistic = 0.0
        self._fired = False
        # PH_T read in blocks (see _block): within one, PH_T = alpha**j (sum_j - low_j)
        # after its j-th value, sum_j the block's first PH_T plus the sum of
        # alpha**-i (x_i - x̄_i - delta) over its values, low_j the least of 0 and sum_1..j
        self._sum = 0.0
        self._low = 0.0
        # The values since the last minimum of m_T (at most ``memory`` of them), and the
        # number and total of those before them, for the change-point estimate.
        self._recent: collections.deque[float] = collections.deque()
        self._before_count = 0
        self._before_total = 0.0

    def read(self, values: Sequence[float] | np.ndarray) -> list[Detection]:
        x = _finite(self.name, values, self._seen)
        found = []
        done = 0
        while done < x.size:
            if self._fired:
                self._restart()
            # PH_T = max(0, alpha PH_{T-1} + y_T) is, scaled by alpha**-j, the textbook
            # running sum minus its running minimum: cumulative sums, a block at a time
            block = _block(self.alpha)
            part = x[done : done + block - self._count % block]
            taken, detection = self._read_block(part)
            done += taken
            if detection is not None:
                found.append(detection)
        return found

    def _read_block(self, x: np.ndarray) -> tuple[int, Detection | None]:
        """Read ``x`` (all in one block) up to its first detection; how many values were
        read, and the detection."""
        block = _block(self.alpha)
        at = self._count % block + 1 + np.arange(x.size)  # j: the place in the block
        counts = self._count + 1 + np.arange(x.size)
        totals = _running(self._total, x)
        rising = x - totals / counts - self.delta
        up, down = _powers(self.alpha, block)
        sums = _running(self._sum, rising * up[at])
        lows = np.minimum.accumulate(np.concatenate(([self._low], sums)))[1:]
        statistics = (sums - lows) * down[at]
        over = (counts >= self.min_instances) & (statistics > self.threshold)
        end = int(np.argmax(over)) + 1 if over.any() else x.size
        last = end - 1
        index = self._seen + last
        self._seen += end
        self._count = int(counts[last])
        self._total = float(totals[last])
        self._statistic = float(statistics[last])
        self._sum, self._low = float(sums[last]), float(lows[last])
        if self._count % block == 0:  # the block is full: the next starts from PH_T
            self._sum, self._low = self._statistic, 0.0
        minima = np.flatnonzero(sums[:end] <= lows[:end])  # PH_T = 0: a new minimum of m_T
        tail = x[:end]
        if minima.size:
            self._before_count = int(counts[minima[-1]])
            self._before_total = float(totals[minima[-1]])
            self._recent.clear()
            tail = x[minima[-1] + 1 : end]
        self._remember(tail)
        if not over.any():
            return end, None
        self._fired = True
        started = index + 1 - len(self._recent) + self._split()
        return end, Detection(self.name, index, started)

    def _remember(self, values: np.ndarray) -> None:
        """Add ``values`` to the recent ones, moving the oldest past ``memory`` before."""
        recent = self._recent
        over = len(recent) + values.size - self.memory
        if over > 0:
            old = min(over, len(recent))
            dropped = [recent.popleft() for _ in range(old)] + values[: over - old].tolist()
            self._before_count += over
            self._before_total = float(_running(self._before_total, np.array(dropped))[-1])
            values = values[over - old :]
        recent.extend(values.tolist())

    def _split(self) -> int:
        """Offset in the recent values of the least-squares start of an increase."""
        n, total = self._count, self._total
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

    def read(self, values: Sequence[float] | np.ndarray) -> list[Detection]:
        x = _finite(self.name, values, self._seen)
        found = []
        done = 0
        while done < x.size:
            part = x[done : done + self.clock * _CHECKS]
            hit = self._first_check(part)
            end = part.size if hit is None else hit + 1
            self._insert(part[:end])
            done += end
            if hit is not None and (detection := self._cut()) is not None:
                found.append(detection)
        return found

    def _cut(self) -> Detection | None:
        """At a check that found a split: cut the window there, then shrink it as in the
        paper (see the class docstring)."""
        best = self._significant_split()
        if best is None:
            return None
        kept = self._width - best
        while self._width > kept:
            self._drop_oldest()
        while self._width >= 2 * self.min_window and self._significant_split() is not None:
            self._drop_oldest()
        return Detection(self.name, self._seen - 1, self._seen - self._width)

    def _first_check(self, x: np.ndarray) -> int | None:
        """The place in ``x`` of the first check, if ``x`` were inserted, at which some
        split of the window differs by more than ε_cut (:meth:`_significant_split`, every
        check of ``x`` at once: the buckets at each follow from counts alone)."""
        after = np.arange(1, x.size + 1)  # values inserted at each place
        widths = self._width + after
        checked = ((self._seen + after) % self.clock == 0) & (widths >= 2 * self.min_window)
        places = np.flatnonzero(checked)
        if not places.size:
            return None
        widths, inserted = widths[places], after[places]
        # every boundary of every bucket at each check, oldest first: (row, slot) columns
        counts = self._bucket_counts(inserted)
        rows = len(counts)
        sizes = 1 << np.arange(rows - 1, -1, -1)  # the oldest row first
        held = np.stack(counts[::-1], axis=1)  # checks x rows
        before = np.cumsum(held * sizes, axis=1) - held * sizes  # values in older rows
        slot = np.arange(1, self.max_buckets + 1)
        n0 = (before[:, :, None] + slot * sizes[:, None]).reshape(places.size, -1)
        exists = (slot <= held[:, :, None]).reshape(places.size, -1)
        n1 = widths[:, None] - n0
        valid = exists & (n0 >= self.min_window) & (n1 >= self.min_window)
        # W0's total: the buckets' totals, then the new values, summed in order
        leaves = [
            (1 << r, t) for r in range(len(self._totals) - 1, -1, -1) for t in self._totals[r]
        ]
        ends = np.cumsum(np.array([size for size, _ in leaves] + [1] * x.size, dtype=np.int64))
        sums = _running(0.0, np.concatenate(([t for _, t in leaves], x)))
        u0 = sums[np.minimum(np.searchsorted(ends, n0), ends.size - 1)]
        totals = _running(self._total, x)[places][:, None]
        kept = np.where(valid, n0, 1), np.where(valid, n1, 1)
        gap = np.abs(u0 / kept[0] - (totals - u0) / kept[1])
        variance = (self._squares_after(x)[places] / widths)[:, None]
        log_term = self._log_term(widths)[:, None]
        shift = self.min_window - 1
        m_recip = 1.0 / np.maximum(kept[0] - shift, 1) + 1.0 / np.maximum(kept[1] - shift, 1)
        bound = np.sqrt(2.0 * m_recip * variance * log_term) + 2.0 / 3.0 * log_term * m_recip
        significant = (valid & (gap > bound)).any(axis=1)
        return int(places[np.argmax(significant)]) if significant.any() else None

    def _bucket_counts(self, inserted: np.ndarray) -> list[np.ndarray]:
        """Buckets in each row (newest row first) after ``inserted`` more values: a row of
        ``have`` buckets merges its two oldest when a value reaching it makes
        ``max_buckets`` + 1, so ``max_buckets`` + 1 - ``have`` values in, then every second."""
        counts = []
        reaching, row = inserted, 0
        while row < len(self._totals) or reaching.any():
            have = len(self._totals[row]) if row < len(self._totals) else 0
            first = self.max_buckets + 1 - have
            merged = np.where(reaching >= first, 1 + (reaching - first) // 2, 0)
            counts.append(have + reaching - 2 * merged)
            reaching, row = merged, row + 1
        return counts

    def _squares_after(self, x: np.ndarray) -> np.ndarray:
        """The window's sum of squared deviations after each value of ``x`` is inserted:
        each adds width · (x - mean)² / (width + 1), width and mean before it."""
        widths = self._width + np.arange(x.size)
        totals = _running(self._total, x)
        deviation = x - np.concatenate(([self._total], totals[:-1])) / np.maximum(widths, 1)
        added = np.where(widths > 0, widths * deviation * deviation / (widths + 1), 0.0)
        return _running(self._squares, added)

    def cut_bound(self, n0: int, n1: int, variance: float) -> float:
        """ε_cut for a split into ``n0`` older and ``n1`` newer values of a window whose
        variance is ``variance``."""
        return self._bound(n0, n1, variance, float(self._log_term(n0 + n1)))

    def _log_term(self, width: Any) -> Any:
        """ln(2 ln(width) / δ), of a width or an array of them (numpy's log either way: the
        same number for the same width)."""
        return np.log(2.0 * np.log(width) / self.delta)

    def _bound(self, n0: int, n1: int, variance: float, log_term: float) -> float:
        shift = self.min_window - 1
        m_recip = 1.0 / (n0 - shift) + 1.0 / (n1 - shift)
        return math.sqrt(2.0 * m_recip * variance * log_term) + 2.0 / 3.0 * log_term * m_recip

    def _insert(self, x: np.ndarray) -> None:
        """Add ``x`` to the window: each value a bucket of its own in the newest row, and
        in each row, as ``max_buckets`` + 1 are reached, the two oldest merged into one
        of the next (pairs of a row's buckets in their order: all merges at once)."""
        self._seen += x.size
        self._squares = float(self._squares_after(x)[-1])
        self._width += x.size
        self._total = float(_running(self._total, x)[-1])
        totals, squares = self._totals, self._squares_of
        new_totals, new_squares = x, np.zeros(x.size)
        row = 0
        while new_totals.size:
            if row == len(totals):
                totals.append([])
                squares.append([])
            have = len(totals[row])
            first = self.max_buckets + 1 - have
            merges = 0 if new_totals.size < first else 1 + (new_totals.size - first) // 2
            line = np.concatenate((totals[row], new_totals))
            spread = np.concatenate((squares[row], new_squares))
            older, newer = line[0 : 2 * merges : 2], line[1 : 2 * merges : 2]
            size = 1 << row
            gap = (older - newer) / size
            new_squares = spread[0 : 2 * merges : 2] + spread[1 : 2 * merges : 2]
            new_squares += size * gap * gap / 2.0
            new_totals = older + newer
            totals[row], squares[row] = line[2 * merges :].tolist(), spread[2 * merges :].tolist()
            row += 1

    def _significant_split(self) -> int | None:
        """None if no split of the window differs by more than ε_cut; else n0 of the
        split that best separates two means."""
        width, total = self._width, self._total
        variance = self._squares / width
        log_term = float(self._log_term(width))
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


def _finite(detector: str, values: Sequence[float] | np.ndarray, first: int) -> np.ndarray:
    """``values`` as an array of floats; a DataError naming the first that is not a finite
    number (``first``: the index of the first value in the stream), before any is read."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(x)
    if bad.any():
        at = int(np.argmax(bad))
        raise DataError(
            f"{detector} got {float(x[at])!r} at index {first + at}; the stream must hold "
            "finite numbers (drop or fill missing feedback before it reaches the detector)"
        )
    return x


def _running(start: float, values: np.ndarray) -> np.ndarray:
    """``start`` plus the values, summed one at a time in order (as a loop would: numpy's
    cumulative sum is sequential), after each value."""
    return np.cumsum(np.concatenate(([start], values)))[1:]


@lru_cache(maxsize=8)
def _block(alpha: float) -> int:
    """Values a block of Page-Hinkley's reading holds: alpha**-j stays below 2**40."""
    return (
        _MOST_BLOCK
        if alpha == 1.0
        else max(1, min(_MOST_BLOCK, int(40 * math.log(2) / -math.log(alpha))))
    )


@lru_cache(maxsize=8)
def _powers(alpha: float, block: int) -> tuple[np.ndarray, np.ndarray]:
    """alpha**-j and alpha**j for j = 0 .. block: the same numbers at every call."""
    places = np.arange(block + 1, dtype=np.float64)
    return np.power(alpha, -places), np.power(alpha, places)
