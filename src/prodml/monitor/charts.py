"""The charts of the monitoring page as drawings (what ``report_monitor.html`` draws as
inline SVG: coordinates, ticks, tooltips), and how the page writes numbers and times: a
latency in ms, a share in %, a count with thousands separators.

>>> number(0.0123, "error_rate"), number(0.0421, "latency_p99_seconds"), number(15000, "rows")
('1.2%', '42.1 ms', '15,000')
>>> moment("2026-11-22T10:00:00+00:00")
'2026-11-22 10:00:00 UTC'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from prodml.page import clip, missing, tenth

__all__ = ["bars", "line_chart", "moment", "not_number", "number"]

# A line chart, in pixels: its size, then the room left, right, above and below the plot.
_W, _H, _L, _R, _T, _B = 340, 160, 58, 14, 12, 24
# A line chart marks every point (each with its tooltip) up to this many windows, then only
# the drifted ones: the page stays small over a long history.
_MARKED = 60
# A distribution chart: the plot's height, a bin's width, the room left of the plot.
_BAR_H, _BIN_W, _BAR_L = 130, 40, 46

# Metrics shown as percentages and as counts; latencies (``*_seconds``) are shown in ms.
_PERCENT = {
    "error_rate",
    "drift_share",
    "null_share",
    "deferred_share",
    "fallback_share",
    "labelled_share",
}
_PERCENT_PREFIXES = ("missing.", "out_of_range.", "unseen.", "class_share.")
_COUNT = {"requests", "errors", "rows", "labelled"}


def not_number(value: Any) -> bool:
    """Whether ``value`` cannot be drawn: None, nan, a boolean or not a number at all."""
    return (
        value is None
        or isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
    )


def number(value: Any, key: str = "") -> str:
    """A number for people: 0.312, 12.3 ms, 33.3%, 1,500; a dash when undefined."""
    if missing(value):
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if key.endswith("_seconds"):
        return f"{value * 1000:.1f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if key in _COUNT:
        return f"{round(value):,}"
    if key in _PERCENT or key.startswith(_PERCENT_PREFIXES):
        return f"{value:.2%}" if 0 < abs(value) < 0.01 else f"{value:.1%}"
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    if 0 < abs(value) < 0.001:
        return f"{value:.2g}"
    return f"{value:.{3 if abs(value) <= 1 else 2 if abs(value) < 100 else 1}f}"


def _nice(value: float) -> float:
    """A round axis end at or above ``value`` (1, 1.2, 1.5, 2, 3, 4, 5, 6 or 8 times a power of
    ten), so that it and its half read well; 0 for 0."""
    if value <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 1.2, 1.5, 2, 3, 4, 5, 6, 8, 10) if m * power >= value)


def _tick(value: float, key: str) -> str:
    """An axis label, short: 50 ms, 0.06%, 0.5, 20k."""
    if key.endswith("_seconds"):
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
    if key == "share" or key in _PERCENT or key.startswith(_PERCENT_PREFIXES):
        return f"{value * 100:.3g}%"
    return _short(value)


def _short(value: float) -> str:
    """A bin edge in at most about five characters: 0.25, 13.5, 20.5k, 1.2M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def moment(value: Any, short: bool = False) -> str:
    """An ISO time, easier to read: ``2026-11-22 10:00:00 UTC`` (short: ``11-22 10:00``)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "—")
    if short:
        return moment.strftime("%m-%d %H:%M")
    zone = moment.strftime("%z")
    zone = " UTC" if zone in ("+0000", "") else f" {zone[:3]}:{zone[3:]}"
    return moment.strftime("%Y-%m-%d %H:%M:%S") + zone


def line_chart(
    label: str,
    key: str,
    windows: Sequence[Mapping[str, Any]],
    series: Sequence[tuple[str, Sequence[Any]]],
    threshold: Sequence[Any] = (),
    drifted: Sequence[bool] = (),
) -> dict[str, Any]:
    """Values by window, one line per series (gaps where undefined), an optional dashed
    threshold, drifted points larger and red; ``label`` is its title."""
    n, top = len(windows), _T + (18 if len(series) > 1 else 0)
    known = [float(v) for _, values in series for v in values if not not_number(v)]
    known += [float(t) for t in threshold if not not_number(t)]
    low = min([0.0, *known])
    lo, hi = -_nice(-low) if low < 0 else 0.0, _nice(max([0.0, *known]) * 1.05)
    hi = hi if hi > lo else 1.0

    def x(i: int) -> float:
        return _L + (_W - _L - _R) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: Any) -> float:
        return _H - _B - (float(v) - lo) / (hi - lo) * (_H - _B - top)

    dashed = None
    if any(not not_number(t) for t in threshold):
        dashed = _path([(x(i), None if not_number(t) else y(t)) for i, t in enumerate(threshold)])
    lines = []
    for s, (name, values) in enumerate(series):
        line = _path([(x(i), None if not_number(v) else y(v)) for i, v in enumerate(values)])
        marked = [(i, v, i < len(drifted) and drifted[i]) for i, v in enumerate(values)]
        points = [
            _point(name, windows[i], number(v, key), (x(i), y(v)), s, bad)
            for i, v, bad in marked
            if not not_number(v) and (bad or n <= _MARKED)
        ]
        lines.append({"cls": f"s{s}", "d": line, "points": points})
    return {
        "label": label,
        "width": _W,
        "height": _H,
        "axis": _y_axis(lo, hi, _L, _W - _R, y, key),
        "ticks": [(tenth(x(i)), _H - 10, f"#{windows[i].get('id')}") for i in _labelled(n)],
        "threshold": dashed,
        "lines": lines,
        "legend": [
            {"cls": f"s{s}", "x": _L + 8 + 70 * s, "y": _T, "name": name}
            for s, (name, _) in enumerate(series if len(series) > 1 else ())
        ],
    }


def _point(
    name: str, window: Mapping[str, Any], shown: str, at: tuple[float, float], s: int, bad: bool
) -> dict[str, Any]:
    """A marked point of series ``s``: where, how large, and its tooltip."""
    when = f"window #{window.get('id')} (ending {moment(window.get('ends_at'))})"
    return {
        "cls": "point drifted" if bad else f"point s{s}",
        "x": tenth(at[0]),
        "y": tenth(at[1]),
        "r": 4.5 if bad else 2.5,
        "tip": f"{name}, {when}: {shown}" + (" drifted" if bad else ""),
    }


def _y_axis(
    lo: float, hi: float, left: float, right: float, y: Callable[[float], float], key: str
) -> dict[str, Any]:
    """Grid lines at the bottom, middle and top of a plot, labelled on its left."""
    lines = [
        ("base" if tick == lo else "grid", tenth(y(tick)), _tick(tick, key))
        for tick in (lo, (lo + hi) / 2, hi)
    ]
    return {"left": tenth(left), "right": tenth(right), "lines": lines}


def _labelled(n: int) -> list[int]:
    """The windows labelled on the x axis: about six, evenly spaced, always the newest."""
    step = max(1, math.ceil(n / 6))
    shown = list(range(0, n, step))
    if shown and shown[-1] != n - 1:
        if n - 1 - shown[-1] < step / 2:
            shown.pop()
        shown.append(n - 1)
    return shown


def _path(points: Sequence[tuple[float, float | None]]) -> str:
    """An SVG path through ``points``, broken where a y is None."""
    d, pen_down = [], False
    for px, py in points:
        if py is None:
            pen_down = False
            continue
        d.append(f"{'L' if pen_down else 'M'}{px:.1f} {py:.1f}")
        pen_down = True
    return "".join(d) or "M0 0"


def bars(name: str, dist: Mapping[str, Any]) -> dict[str, Any]:
    """Reference and current shares side by side, per bin (labelled by its edges) or per
    category (labelled below, at an angle)."""
    reference, current = list(dist.get("reference") or []), list(dist.get("current") or [])
    numeric, n = dist.get("kind") == "numeric", len(reference)
    edges = [float(e) for e in dist.get("edges") or []]
    if numeric:
        labels = [f"{a:.4g} to {b:.4g}" for a, b in pairwise(edges)]
    else:
        labels = [str(c) for c in dist.get("categories") or []]
    labels += [f"bin {i + 1}" for i in range(len(labels), n)]
    if not n:
        return {"label": f"{name}: no values", "width": 200, "height": 30, "bins": None}
    longest = 0 if numeric else max(len(clip(label, 16)) for label in labels)
    top, width = 10, _BAR_L + n * _BIN_W + 20
    height = top + _BAR_H + (24 if numeric else 16 + 5 * longest)
    hi = _nice(max([*reference, *current, 0.0]) * 1.05) or 1.0

    def y(share: float) -> float:
        return top + _BAR_H - share / hi * _BAR_H

    bar, base, bins = (_BIN_W - 8) / 2, top + _BAR_H, []
    for i in range(n):
        left = _BAR_L + i * _BIN_W + 4
        ref, cur = float(reference[i]), float(current[i]) if i < len(current) else 0.0
        rects = [
            (cls, tenth(at), tenth(y(share)), tenth(bar), tenth(base - y(share)))
            for at, cls, share in ((left, "reference", ref), (left + bar, "current", cur))
        ]
        turn = f"translate({left + bar:.1f} {base + 8}) rotate(-40)"
        tip = f"{name} {labels[i]}: reference {ref:.1%}, current {cur:.1%}"
        label = None if numeric else (turn, clip(labels[i], 16))
        bins.append({"tip": tip, "rects": rects, "label": label})
    step = 2 if n > 8 else 1  # every other edge when there are many, so that they fit
    kind = "bin" if numeric else "category"
    return {
        "label": f"{name}: share of rows per {kind}, reference and current",
        "width": width,
        "height": height,
        "axis": _y_axis(0.0, hi, _BAR_L, width - 20, y, "share"),
        "bins": bins,
        "edges": [
            (_BAR_L + i * _BIN_W, base + 12, _short(edge))
            for i, edge in enumerate(edges if numeric else [])
            if i % step == 0
        ],
    }
