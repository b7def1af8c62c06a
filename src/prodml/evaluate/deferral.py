"""The evaluation page's deferral section: coverage against error, what each confidence
threshold would leave to people (see :mod:`prodml.automation`), as a chart and a table.
This module lays them out; the template ``report_evaluation.html`` draws them.

>>> found = deferral({"deferral": [{"threshold": 0.9, "coverage": 0.5, "automatic": 50,
...     "errors": 1, "error": 0.02, "upper": 0.09}, {"threshold": 0.5, "coverage": 1.0,
...     "automatic": 100, "errors": 10, "error": 0.1, "upper": 0.16}]})
>>> found["rows"][0], found["series"][0]["path"]
(['0.900', '50% (50)', '1', '2.00%', '9.00%'], 'M338.0,197.3 L624.0,106.4')
>>> deferral({"deferral": None}) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["deferral"]

# The chart, in pixels: width, height, and the plot's margins (left, right, top, bottom).
_W, _H, _L, _R, _T, _B = 640, 260, 52, 16, 20, 40
_SERIES = (("error", "error among automatic decisions", "s0"), ("upper", "its 95% bound", "s1"))


def deferral(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The section's table and chart, or None for a model without probabilities."""
    points: Sequence[Mapping[str, Any]] = report.get("deferral") or []
    if not points:
        return None
    rows = [
        [
            f"{p['threshold']:.3f}",
            f"{p['coverage']:.0%} ({p['automatic']:,})",
            f"{p['errors']:,}",
            f"{p['error']:.2%}",
            f"{p['upper']:.2%}",
        ]
        for p in points
    ]
    return {"head": ["threshold", "automatic", "errors", "error", "95% bound"], "rows": rows} | (
        _chart(points)
    )


def _chart(points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    top = max(float(p["upper"]) for p in points) * 1.1 or 1.0

    def x(coverage: float) -> float:
        return _L + (_W - _L - _R) * coverage

    def y(rate: float) -> float:
        return _H - _B - (_H - _B - _T) * rate / top

    series = [
        {
            "name": name,
            "cls": cls,
            "path": " ".join(
                f"{'M' if i == 0 else 'L'}{x(float(p['coverage'])):.1f},{y(float(p[key])):.1f}"
                for i, p in enumerate(points)
            ),
        }
        for key, name, cls in _SERIES
    ]
    return {
        "width": _W,
        "height": _H,
        "left": _L,
        "right": _W - _R,
        "zero": y(0),
        "top": (f"{top:.0%}", y(top) + 4),
        "ticks": [(f"{share:.0%}", x(share)) for share in (0.0, 0.5, 1.0)],
        "tick_y": _H - _B + 16,
        "series": series,
    }
