"""The evaluation page's deferral section: coverage against error, what each confidence
threshold would leave to people (see :mod:`prodml.automation`), as a chart and a table.

>>> html = section_of({"deferral": [{"threshold": 0.9, "coverage": 0.5, "automatic": 50,
...     "errors": 1, "error": 0.02, "upper": 0.09}, {"threshold": 0.5, "coverage": 1.0,
...     "automatic": 100, "errors": 10, "error": 0.1, "upper": 0.16}]})
>>> "<svg" in html and "50%" in html
True
>>> section_of({"deferral": None})
''
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prodml.page import el, escape, scroll, section, svg, table, tr

# The chart, in pixels: width, height, and the plot's margins (left, right, top, bottom).
_W, _H, _L, _R, _T, _B = 640, 260, 52, 16, 20, 40
_SERIES = (("error", "error among automatic decisions", "s0"), ("upper", "its 95% bound", "s1"))


def section_of(report: Mapping[str, Any]) -> str:
    """The section, or nothing for a model without probabilities."""
    points: Sequence[Mapping[str, Any]] = report.get("deferral") or []
    if not points:
        return ""
    head = ["threshold", "automatic", "errors", "error", "95% bound"]
    rows = [
        tr(
            [
                f"{p['threshold']:.3f}",
                f"{p['coverage']:.0%} ({p['automatic']:,})",
                f"{p['errors']:,}",
                f"{p['error']:.2%}",
                f"{p['upper']:.2%}",
            ]
        )
        for p in points
    ]
    note = el(
        "p",
        "Answers at or above a threshold would be the model's; the rest go to a person. "
        "<code>prodml automation NAME partial --target-error E</code> picks the lowest "
        "threshold whose 95% bound (on the dev split) meets the target.",
    )
    body = f"{note}\n{scroll(_chart(points))}\n{table(head, rows)}"
    return section("deferral", "Deferral: coverage against error", body)


def _chart(points: Sequence[Mapping[str, Any]]) -> str:
    top = max(float(p["upper"]) for p in points) * 1.1 or 1.0

    def x(coverage: float) -> float:
        return _L + (_W - _L - _R) * coverage

    def y(rate: float) -> float:
        return _H - _B - (_H - _B - _T) * rate / top

    parts = [
        el("line", class_="grid", x1=_L, y1=y(0), x2=_W - _R, y2=y(0)),
        el("text", "share decided by the model", class_="axis", x=_W / 2, y=_H - 6),
        el("text", f"{top:.0%}", class_="tick", x=_L - 6, y=y(top) + 4, text_anchor="end"),
        el("text", "0%", class_="tick", x=_L - 6, y=y(0) + 4, text_anchor="end"),
    ]
    for share in (0.0, 0.5, 1.0):
        parts.append(el("text", f"{share:.0%}", class_="tick", x=x(share), y=_H - _B + 16))
    for key, name, cls in _SERIES:
        line = " ".join(
            f"{'M' if i == 0 else 'L'}{x(float(p['coverage'])):.1f},{y(float(p[key])):.1f}"
            for i, p in enumerate(points)
        )
        parts.append(el("path", el("title", escape(name)), class_=f"line {cls}", d=line))
    return svg(_W, _H, parts, title="coverage against error", role="img")
