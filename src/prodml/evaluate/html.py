"""An evaluation as one self-contained HTML page, to open offline or attach to a review.

The input is the JSON form of an evaluation (what ``prodml evaluate --json`` prints). Python
formats the numbers and computes the charts' coordinates; the markup is the template
``report_evaluation.html`` (on the report pages' frame, ``_report.html``). The page needs
nothing beyond itself: the style is inline, the charts are SVG, and there is no script, no
font and no URL. Every string taken from the report is escaped.

>>> page = render_html({"project": "demo", "run": "ab12", "task": "regression",
...                     "metrics": {"mae": 1.5, "rmse": 2.25}, "audit": {"passed": True}})
>>> page.startswith("<!DOCTYPE html>"), '"verdict pass">PASS<' in page, "<script" in page
(True, True, False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prodml.evaluate.deferral import deferral
from prodml.page import BASE_STYLE, clip, missing, template, tenth

#: The slice chart shows this many slices, highest priority first; the table shows all.
MAX_CHART_SLICES = 30
# The slice chart, in pixels: the names' column, the plot, a row (22 high), the axis above.
_LABEL_W, _PLOT_W, _ROW_H, _TOP = 230, 440, 22, 26
_WIDTH = _LABEL_W + _PLOT_W + 80

# Fields shown as percentages and as counts; per-class keys match by the part before "[".
_PERCENT = {"share", "gain", "error_rate", "error_share", "mape"}
_COUNT = {"count", "rows", "support"}


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for ``report``, an evaluation in its JSON form."""
    classes = (
        report.get("task") != "regression" and report.get("labels") and report.get("confusion")
    )
    return template(
        "report_evaluation.html",
        style=BASE_STYLE,
        title=f"Evaluation of {report.get('project', '')} run {report.get('run', '')}",
        header=_header(report),
        cards=_cards(report),
        confusion=_confusion(report) if classes else None,
        per_class=_per_class(report) if classes else None,
        baselines=_baselines(report),
        priority=_priority(report),
        chart=_slice_chart(report),
        deferral=deferral(report),
        golden=_golden(report),
        audit=_audit(report),
        sign_off=_sign_off(report),
    )


def _fmt(value: Any, key: str = "") -> str:
    """A number for people: 0.943, 24.0%, 5,000; a dash when undefined."""
    if missing(value):
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    base = key.partition("[")[0]
    if base in _COUNT:
        return f"{round(value):,}"
    if base in _PERCENT:
        return f"{value:.2%}" if 0 < abs(value) < 0.01 else f"{value:.1%}"
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    digits = 3 if abs(value) <= 1 else 2 if abs(value) < 100 else 1
    return f"{value:.{digits}f}"


def _interval(interval: Any, key: str) -> str:
    if not interval or any(missing(v) for v in interval):
        return "—"
    return f"[{_fmt(interval[0], key)}, {_fmt(interval[1], key)}]"


def _when(value: Any) -> str:
    """An ISO timestamp, easier to read: ``2026-11-22 10:00:00+00:00``."""
    return str(value or "").replace("T", " ", 1)


def _with_focus_first(keys: Iterable[str], focus: str) -> list[str]:
    rest = [k for k in keys if k != focus]
    return [focus, *rest] if focus else rest


def _header(report: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict, the project, the facts (name: value) and the warnings."""
    passed = (report.get("audit") or {}).get("passed")
    data = report.get("data") or {}
    facts = {
        "run": report.get("run"),
        "task": report.get("task"),
        "data": data.get("source"),
        "rows": data.get("rows"),
        "fingerprint": data.get("fingerprint"),
        "focus metric": report.get("focus"),
        "created": _when(report.get("created")),
    }
    return {
        "verdict": "not audited" if passed is None else "PASS" if passed else "FAIL",
        "project": report.get("project", ""),
        "facts": {k: _fmt(v, k) for k, v in facts.items() if v},
        "warnings": list(report.get("warnings") or []),
    }


def _cards(report: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """The headline metrics, the focus first: name, value, whether it is the focus."""
    metrics, focus = report.get("metrics") or {}, report.get("focus") or ""
    keys = _with_focus_first([k for k in metrics if "[" not in k], focus)
    return [(k, _fmt(metrics[k], k), k == focus) for k in keys if k in metrics]


def _confusion(report: Mapping[str, Any]) -> dict[str, Any]:
    """The confusion matrix's drawing: a cell per pair of labels, shaded by its share of
    the row, the labels of the columns at an angle when they are wider than a cell."""
    labels = [str(label) for label in report["labels"]]
    n, shown = len(labels), [clip(label, 12) for label in labels]
    cell, longest = max(36, min(64, 520 // n)), max(len(s) for s in shown)
    rotate = 7 * longest > cell
    left, top = 44 + 7 * longest, 40 + (6 * longest if rotate else 14)
    columns = [(tenth(left + j * cell + cell / 2), top - 10, name) for j, name in enumerate(shown)]
    rows = [
        (
            tenth(top + (i + 0.5) * cell),
            shown[i],
            [_cell(labels, i, j, counts, (left, top), cell) for j in range(len(counts))],
        )
        for i, counts in enumerate(report["confusion"])
    ]
    middle = n * cell / 2
    return {
        "width": left + n * cell + 10,
        "height": top + n * cell + 10,
        "left": left,
        "cell": cell,
        "rotate": rotate,
        "axis": (tenth(left + middle), tenth(top + middle)),
        "columns": columns,
        "rows": rows,
    }


def _cell(
    labels: list[str], i: int, j: int, counts: list[int], corner: tuple[int, int], size: int
) -> dict[str, Any]:
    """Row ``i``, column ``j`` of the confusion matrix (its top left at ``corner``, its
    cells ``size`` wide): where, its count, its tooltip and its shade."""
    x, y = corner[0] + j * size, corner[1] + i * size
    text, share = _fmt(counts[j], "count"), counts[j] / (sum(counts) or 1)
    return {
        "x": x,
        "y": y,
        "middle": (tenth(x + size / 2), tenth(y + size / 2)),
        "text": text,
        "tip": f"true {labels[i]}, predicted {labels[j]}: {text} ({share:.1%} of row)",
        "shade": f"{max(share, 0.03):.3f}",  # a faint tint keeps empty cells visible
        "size": f"{min(13.0, 1.7 * size / len(text)):.1f}",
        "dark": share > 0.5,
    }


def _per_class(report: Mapping[str, Any]) -> list[tuple[str, bool, list[str]]]:
    """Each class: its label, whether it is the positive one, its metrics."""
    metrics, positive = report.get("metrics") or {}, report.get("positive_class")
    names = ("precision", "recall", "f1", "support")
    return [
        (
            str(label),
            str(label) == str(positive),
            [_fmt(metrics.get(f"{m}[{label}]"), m) for m in names],
        )
        for label in report["labels"]
    ]


def _baselines(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The baselines side by side: each one's name and kind, then a row per metric, the
    focus first."""
    baselines, focus = report.get("baselines") or [], report.get("focus") or ""
    if not baselines:
        return None
    # as the terminal shows them: the positive class's recall, precision and F1 after the
    # focus, then the metrics of no one class
    positive = report.get("positive_class")
    per_class = [f"{m}[{positive}]" for m in ("recall", "precision", "f1")] if positive else []
    measured = {k for b in baselines for k in b.get("metrics") or {}}
    keys = [
        *(k for k in per_class if k in measured),
        *dict.fromkeys(k for b in baselines for k in b.get("metrics") or {} if "[" not in k),
    ]
    heads = []
    for b in baselines:
        counted = f", {_fmt(b['rows'], 'rows')} rows" if b.get("rows") is not None else ""
        heads.append((b.get("name", ""), f"{b.get('kind', '')}{counted}"))
    rows = [
        ([k, *(_fmt((b.get("metrics") or {}).get(k), k) for b in baselines)], k == focus)
        for k in _with_focus_first(keys, focus)
    ]
    return {"heads": heads, "rows": rows}


def _priority(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The slices' table, highest priority first; a regression's has no intervals."""
    slices, focus = report.get("slices") or [], report.get("focus") or "value"
    if not slices:
        return None
    regression = report.get("task") == "regression"
    gain = focus if regression else "gain"  # an error's gain is in its own units, not a share
    head = ["slice", focus, "reference", "gap", "share", "gain", "count"]
    rows = []
    for s in slices:
        count, interval = _fmt(s.get("count"), "count"), _interval(s.get("interval"), focus)
        sufficient, value = s.get("sufficient", True), _fmt(s.get("value"), focus)
        if not sufficient:
            evidence = f"n = {count}" + ("" if regression else f", 95% interval {interval}")
            value = f"insufficient evidence ({evidence})"
        after = [_fmt(s.get("share"), "share"), _fmt(s.get("gain"), gain), count]
        rows.append(
            {
                "name": s.get("name", ""),
                "value": value,
                "reference": (_fmt(s.get("reference"), focus), s.get("reference_name") or ""),
                "after": [_fmt(s.get("gap"), focus), *after, *([] if regression else [interval])],
                "sufficient": sufficient,
            }
        )
    return {"head": head if regression else [*head, "95% interval"], "rows": rows}


def _slice_chart(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The slice chart's drawing: the axis's ticks, then a row per slice (see
    :func:`_slice_row`), the first :data:`MAX_CHART_SLICES` of them."""
    every, focus = report.get("slices") or [], report.get("focus") or ""
    slices = every[:MAX_CHART_SLICES]
    if not slices:
        return None
    ends = [(s.get("value"), s.get("reference"), *(s.get("interval") or ())) for s in slices]
    known = [float(v) for row in ends for v in row if not missing(v)]
    lo = min([0.0, *known])
    hi = max([0.0 if report.get("task") == "regression" else 1.0, *known])
    hi = hi if hi > lo else lo + 1.0

    def x(v: Any) -> float:
        return tenth(_LABEL_W + (float(v) - lo) / (hi - lo) * _PLOT_W)

    height = _TOP + _ROW_H * len(slices) + 6
    return {
        "width": _WIDTH,
        "height": height,
        "top": _TOP,
        "label": _LABEL_W - 8,
        "ticks": [
            (x(tick), _fmt(tick, focus)) for tick in (lo + (hi - lo) * k / 4 for k in range(5))
        ],
        "rows": [_slice_row(s, focus, x, _TOP + i * _ROW_H) for i, s in enumerate(slices)],
        "focus": focus,
        "kept": f"the {len(slices)} of {len(every)} " if len(every) > len(slices) else "",
    }


def _slice_row(
    s: Mapping[str, Any], focus: str, x: Callable[[Any], float], y: float
) -> dict[str, Any]:
    """A slice's name, a bar to its value, its interval as a whisker, the reference as a
    tick: each None where the slice has none."""
    name, value, interval = str(s.get("name", "")), s.get("value"), s.get("interval")
    mid = y + _ROW_H / 2
    bar = whisker = reference = None
    if not missing(value):
        a, b = sorted((x(0.0), x(value)))
        bar = (a, tenth(b - a))
    if interval and not any(missing(v) for v in interval):
        a, b = x(interval[0]), x(interval[1])
        whisker = f"M{a:.1f} {mid}H{b:.1f}M{a:.1f} {mid - 4}v8M{b:.1f} {mid - 4}v8"
    if not missing(s.get("reference")):
        reference = x(s["reference"])
    sufficient = s.get("sufficient", True)
    return {
        "tip": (
            f"{name}: {_fmt(value, focus)}, interval {_interval(interval, focus)},"
            f" reference {_fmt(s.get('reference'), focus)}, n = {_fmt(s.get('count'), 'count')}"
        ),
        "name": clip(name, 32),
        "mid": mid,
        "bar": bar,
        "whisker": whisker,
        "reference": reference,
        "shown": _fmt(value, focus) if sufficient else "insufficient",
        "sufficient": sufficient,
    }


def _golden(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The golden examples' file, how many, and the rows of those that fail."""
    golden = report.get("golden")
    if not golden:
        return None
    failures = golden.get("failures") or []
    return {
        "file": golden.get("file", ""),
        "count": _fmt(golden.get("count"), "count"),
        "failing": f"{len(failures):,}",
        "rows": [[f.get(k, "") for k in ("id", "expected", "predicted")] for f in failures],
    }


def _audit(report: Mapping[str, Any]) -> list[tuple[bool, str, str, str]]:
    """The audit's rules: whether each passed, the rule, the value and the reason."""
    rules = (report.get("audit") or {}).get("rules") or []
    return [
        (bool(r.get("passed")), rule, _fmt(r.get("value"), rule.partition(" ")[0]), reason)
        for r in rules
        for rule, reason in [(str(r.get("rule", "")), str(r.get("reason") or ""))]
    ]


def _sign_off(report: Mapping[str, Any]) -> dict[str, str] | None:
    """Who signed off, when and their note."""
    sign = report.get("sign_off")
    if not sign:
        return None
    return {
        "by": sign.get("by", ""),
        "at": _when(sign["at"]) if sign.get("at") else "",
        "note": sign.get("note") or "",
    }
