"""An evaluation as one self-contained HTML page, to open offline or attach to a review.

The input is the JSON form of an evaluation (what ``prodml evaluate --json`` prints). The page
needs nothing beyond itself: the style is inline, the charts are SVG drawn here, and there is
no script, no font and no URL. Every string taken from the report is escaped.

>>> page = render_html({"project": "demo", "run": "ab12", "task": "regression",
...                     "metrics": {"mae": 1.5, "rmse": 2.25}, "audit": {"passed": True}})
>>> page.startswith("<!DOCTYPE html>"), '"verdict pass">PASS<' in page, "<script" in page
(True, True, False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prodml.evaluate.deferral import section_of
from prodml.page import (
    BASE_STYLE,
    clip,
    document,
    el,
    escape,
    missing,
    muted,
    scroll,
    section,
    svg,
    table,
    tr,
)

#: The slice chart shows this many slices, highest priority first; the table shows all.
MAX_CHART_SLICES = 30
# The slice chart, in pixels: the names' column, the plot, a row (22 high), the axis above.
_LABEL_W, _PLOT_W, _ROW_H, _TOP = 230, 440, 22, 26
_WIDTH = _LABEL_W + _PLOT_W + 80

# Fields shown as percentages and as counts; per-class keys match by the part before "[".
_PERCENT = {"share", "gain", "error_rate", "error_share", "mape"}
_COUNT = {"count", "rows", "support"}

_STYLE = (
    BASE_STYLE
    + """main { max-width: 1100px; } h1 { margin: 0 0 8px; } h2 { margin: 0 0 12px; }
.verdict { float: right; font: bold 28px/1 sans-serif; padding: 10px 22px; border-radius: 8px;
  color: #fff; background: #6e7781; } .pass { background: #1a7f37; } .fail { background: #cf222e; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
.facts dt, .card .name { color: #59636e; } .facts dd { margin: 0; overflow-wrap: anywhere; }
.warnings { clear: both; margin-top: 12px; padding: 10px 14px; border: 1px solid #d4a72c;
  background: #fff8c5; border-radius: 6px; } .cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; min-width: 96px; }
.card .value { font-size: 22px; font-weight: 600; } .focus { background: #ddf4ff; }
th, td { text-align: right; }
th:first-child, td:first-child, #audit td, #audit th, #golden td, #golden th { text-align: left; }
tr.focus td { font-weight: 600; } tr.insufficient td { color: #59636e; font-style: italic; }
.bad { color: #cf222e; font-weight: 600; }
.tag { font-size: 11px; padding: 0 5px; border-radius: 8px; background: #eaeef2; }
blockquote { margin: 8px 0 0; padding-left: 12px; border-left: 3px solid #d0d7de; }
svg text { font: 12px sans-serif; } svg .axis { font-weight: 600; }
svg .line { fill: none; stroke-width: 2; } svg .s0 { stroke: #0969da; }
svg .s1 { stroke: #cf222e; stroke-dasharray: 5 3; } svg .grid { stroke: #d0d7de; }
svg .tick { fill: #59636e; font-size: 11px; }
svg .dark { fill: #fff; }
svg .cell { fill: #0969da; stroke: #fff } svg .bar { fill: #54aeff; } svg .weak .bar { fill: #ccc; }
svg .whisker { stroke: #1f2328; } svg .reference { stroke: #cf222e; stroke-width: 2.5; }
"""
)


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for ``report``, an evaluation in its JSON form."""
    sections = [_header(report), _headline(report)]
    if report.get("task") != "regression" and report.get("labels") and report.get("confusion"):
        sections += [_confusion(report), _per_class(report)]
    sections += [_baselines(report), _priority(report), _slice_chart(report)]
    sections += [section_of(report), _golden(report), _audit(report), _sign_off(report)]
    title = f"Evaluation of {report.get('project', '')} run {report.get('run', '')}"
    return document(title, _STYLE, sections)


def _fmt(value: Any, key: str = "") -> str:
    """A number for people, escaped: 0.943, 24.0%, 5,000; a dash when undefined."""
    if missing(value):
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(value)
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


def _header(report: Mapping[str, Any]) -> str:
    passed = (report.get("audit") or {}).get("passed")
    verdict = "not audited" if passed is None else "PASS" if passed else "FAIL"
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
    items = "".join(f"<dt>{k}</dt><dd>{_fmt(v, k)}</dd>" for k, v in facts.items() if v)
    parts = [
        f'<header>\n<div class="verdict {verdict.lower()}">{verdict}</div>',
        f"<h1>Evaluation of {escape(report.get('project', ''))}</h1>",
        f'<dl class="facts">{items}</dl>',
    ]
    if warnings := "".join(f"<li>{escape(w)}</li>" for w in report.get("warnings") or []):
        parts.append(f'<div class="warnings" role="alert"><b>Warnings</b><ul>{warnings}</ul></div>')
    return "\n".join([*parts, "</header>"])


def _headline(report: Mapping[str, Any]) -> str:
    metrics, focus = report.get("metrics") or {}, report.get("focus") or ""
    keys = _with_focus_first([k for k in metrics if "[" not in k], focus)
    cards = "".join(
        f'<div class="card{" focus" if k == focus else ""}"><div class="value">'
        f'{_fmt(metrics[k], k)}</div><div class="name">{escape(k)}</div></div>'
        for k in keys
        if k in metrics
    )
    return section("metrics", "Headline metrics", f'<div class="cards">{cards}</div>')


def _confusion(report: Mapping[str, Any]) -> str:
    labels = [str(label) for label in report["labels"]]
    n, shown = len(labels), [clip(label, 12) for label in labels]
    cell, longest = max(36, min(64, 520 // n)), max(len(s) for s in shown)
    rotate = 7 * longest > cell  # column labels wider than a cell are drawn at an angle
    left, top = 44 + 7 * longest, 40 + (6 * longest if rotate else 14)
    middle = n * cell / 2
    parts = [
        el("text", "predicted", class_="axis", x=left + middle, y=14),
        el("text", "true", class_="axis", transform=f"translate(14 {top + middle}) rotate(-90)"),
    ]
    for j, name in enumerate(shown):
        x, y = left + j * cell + cell / 2, top - 10
        if rotate:
            turn = f"translate({x} {y}) rotate(-45)"
            parts.append(el("text", escape(name), class_="label start", transform=turn))
        else:
            parts.append(el("text", escape(name), class_="label", x=x, y=y))
    for i, row in enumerate(report["confusion"]):
        y, total = top + i * cell, sum(row)
        parts.append(el("text", escape(shown[i]), class_="label end", x=left - 6, y=y + cell / 2))
        for j, count in enumerate(row):
            x, text, share = left + j * cell, _fmt(count, "count"), count / (total or 1)
            pair = f"true {escape(labels[i])}, predicted {escape(labels[j])}"
            tip = f"{pair}: {text} ({share:.1%} of row)"
            shade = f"{max(share, 0.03):.3f}"  # a faint tint keeps empty cells visible
            box = el("rect", class_="cell", x=x, y=y, width=cell, height=cell, fill_opacity=shade)
            size = f"font-size: {min(13.0, 1.7 * cell / len(text)):.1f}px"
            ink = "count dark" if share > 0.5 else "count"
            number = el("text", text, class_=ink, x=x + cell / 2, y=y + cell / 2, style=size)
            parts.append(el("g", el("title", tip) + box + number))
    note = muted("Rows are the true class, columns the prediction; shade is the share of the row.")
    width, height = left + n * cell + 10, top + n * cell + 10
    chart = svg(width, height, parts, cls="confusion", aria_label="confusion matrix")
    return section("confusion", "Confusion matrix", f"{note}\n{scroll(chart)}")


def _per_class(report: Mapping[str, Any]) -> str:
    metrics, positive = report.get("metrics") or {}, report.get("positive_class")
    rows, names = [], ("precision", "recall", "f1", "support")
    for label in report["labels"]:
        tag = ' <span class="tag">positive</span>' if str(label) == str(positive) else ""
        rows.append(
            tr([escape(label) + tag, *(_fmt(metrics.get(f"{m}[{label}]"), m) for m in names)])
        )
    head = ["class", "precision", "recall", "F1", "support"]
    return section("classes", "Per class", table(head, rows))


def _baselines(report: Mapping[str, Any]) -> str:
    baselines, focus = report.get("baselines") or [], report.get("focus") or ""
    if not baselines:
        return section("baselines", "Baselines", muted("No baselines were computed."))
    # as the terminal shows them: the positive class's recall, precision and F1 after the
    # focus, then the metrics of no one class
    positive = report.get("positive_class")
    per_class = [f"{m}[{positive}]" for m in ("recall", "precision", "f1")] if positive else []
    measured = {k for b in baselines for k in b.get("metrics") or {}}
    keys = [
        *(k for k in per_class if k in measured),
        *dict.fromkeys(k for b in baselines for k in b.get("metrics") or {} if "[" not in k),
    ]
    head = ["metric"]
    for b in baselines:
        rows = f", {_fmt(b['rows'], 'rows')} rows" if b.get("rows") is not None else ""
        kind = f'<span class="muted">{escape(b.get("kind", ""))}{rows}</span>'
        head.append(f"{escape(b.get('name', ''))}<br>{kind}")
    body = []
    for k in _with_focus_first(keys, focus):
        values = [_fmt((b.get("metrics") or {}).get(k), k) for b in baselines]
        body.append(tr([escape(k), *values], "focus" if k == focus else ""))
    return section("baselines", "Baselines", table(head, body))


def _priority(report: Mapping[str, Any]) -> str:
    slices, focus = report.get("slices") or [], report.get("focus") or "value"
    if not slices:
        return section("slices", "Slices by priority", muted("No slices were evaluated."))
    regression = report.get("task") == "regression"
    gain = focus if regression else "gain"  # an error's gain is in its own units, not a share
    head = ["slice", escape(focus), "reference", "gap", "share", "gain", "count"]
    rows = []
    for s in slices:
        count, interval = _fmt(s.get("count"), "count"), _interval(s.get("interval"), focus)
        sufficient, value = s.get("sufficient", True), _fmt(s.get("value"), focus)
        if not sufficient:
            evidence = f"n = {count}" + ("" if regression else f", 95% interval {interval}")
            value = f"insufficient evidence ({evidence})"
        reference = _fmt(s.get("reference"), focus)
        if s.get("reference_name"):
            reference += f' <span class="muted">{escape(s["reference_name"])}</span>'
        cells = [escape(s.get("name", "")), value, reference, _fmt(s.get("gap"), focus)]
        cells += [_fmt(s.get("share"), "share"), _fmt(s.get("gain"), gain), count]
        cls = "" if sufficient else "insufficient"
        rows.append(tr(cells if regression else [*cells, interval], cls))
    shown = table(head if regression else [*head, "95% interval"], rows)
    return section("slices", "Slices by priority", shown)


def _slice_chart(report: Mapping[str, Any]) -> str:
    every, focus = report.get("slices") or [], report.get("focus") or ""
    slices = every[:MAX_CHART_SLICES]
    if not slices:
        return ""
    ends = [(s.get("value"), s.get("reference"), *(s.get("interval") or ())) for s in slices]
    known = [float(v) for row in ends for v in row if not missing(v)]
    lo = min([0.0, *known])
    hi = max([0.0 if report.get("task") == "regression" else 1.0, *known])
    hi = hi if hi > lo else lo + 1.0

    def x(v: Any) -> float:
        return _LABEL_W + (float(v) - lo) / (hi - lo) * _PLOT_W

    height, parts = _TOP + _ROW_H * len(slices) + 6, []
    for tick in (lo + (hi - lo) * k / 4 for k in range(5)):
        parts.append(el("line", class_="grid", x1=x(tick), y1=_TOP - 4, x2=x(tick), y2=height))
        parts.append(el("text", _fmt(tick, focus), class_="tick", x=x(tick), y=_TOP - 12))
    parts += [_slice_row(s, focus, x, _TOP + i * _ROW_H) for i, s in enumerate(slices)]
    kept = f"the {len(slices)} of {len(every)} " if len(every) > len(slices) else ""
    legend = muted(
        f"Bars: <code>{escape(focus)}</code> per slice, {kept}highest priority first. "
        "Whiskers: 95% interval. Red ticks: the reference. Grey bars: insufficient evidence."
    )
    chart = svg(_WIDTH, height, parts, cls="slices", aria_label="focus metric per slice")
    return section("slice-chart", "Slice chart", f"{legend}\n{scroll(chart)}")


def _slice_row(s: Mapping[str, Any], focus: str, x: Callable[[Any], float], y: float) -> str:
    """A slice's name, a bar to its value, its interval as a whisker, the reference as a tick."""
    name, value, interval = str(s.get("name", "")), s.get("value"), s.get("interval")
    mid = y + _ROW_H / 2
    tip = (
        f"{escape(name)}: {_fmt(value, focus)}, interval {_interval(interval, focus)},"
        f" reference {_fmt(s.get('reference'), focus)}, n = {_fmt(s.get('count'), 'count')}"
    )
    g = [el("title", tip), el("text", escape(clip(name, 32)), class_="end", x=_LABEL_W - 8, y=mid)]
    if not missing(value):
        a, b = sorted((x(0.0), x(value)))
        g.append(el("rect", class_="bar", x=a, y=mid - 6, width=b - a, height=12))
    if interval and not any(missing(v) for v in interval):
        a, b = x(interval[0]), x(interval[1])
        whisker = f"M{a:.1f} {mid}H{b:.1f}M{a:.1f} {mid - 4}v8M{b:.1f} {mid - 4}v8"
        g.append(el("path", class_="whisker", d=whisker))
    if not missing(s.get("reference")):
        r = x(s["reference"])
        g.append(el("line", class_="reference", x1=r, y1=mid - 9, x2=r, y2=mid + 9))
    sufficient = s.get("sufficient", True)
    shown = _fmt(value, focus) if sufficient else "insufficient"
    g.append(el("text", shown, class_="end", x=_WIDTH - 4, y=mid))
    return el("g", "".join(g), class_="slice" if sufficient else "slice weak")


def _golden(report: Mapping[str, Any]) -> str:
    golden = report.get("golden")
    if not golden:
        return section("golden", "Golden examples", muted("No golden examples were checked."))
    failures, count = golden.get("failures") or [], _fmt(golden.get("count"), "count")
    file = f"<code>{escape(golden.get('file', ''))}</code>"
    body = f"<p>{len(failures):,} of the {count} golden examples in {file} fail.</p>"
    if failures:
        rows = [
            tr([escape(f.get(k, "")) for k in ("id", "expected", "predicted")]) for f in failures
        ]
        body += "\n" + table(["id", "expected", "predicted"], rows)
    return section("golden", "Golden examples", body)


def _audit(report: Mapping[str, Any]) -> str:
    rules = (report.get("audit") or {}).get("rules") or []
    if not rules:
        return section("audit", "Audit", muted("No audit rules are configured."))
    rows = []
    for r in rules:
        ok, rule = bool(r.get("passed")), str(r.get("rule", ""))
        mark = '<span class="ok">✓ pass</span>' if ok else '<span class="bad">✗ fail</span>'
        value = _fmt(r.get("value"), rule.partition(" ")[0])
        rows.append(
            tr([mark, f"<code>{escape(rule)}</code>", value, escape(r.get("reason") or "")])
        )
    return section("audit", "Audit", table(["result", "rule", "value", "reason"], rows))


def _sign_off(report: Mapping[str, Any]) -> str:
    sign = report.get("sign_off")
    if not sign:
        return section("sign-off", "Sign-off", muted("Not signed off."))
    by = f"<strong>{escape(sign.get('by', ''))}</strong>"
    at = f" on {escape(_when(sign['at']))}" if sign.get("at") else ""
    body = f"<p>Signed off by {by}{at}.</p>"
    if sign.get("note"):
        body += f"\n<blockquote>{escape(sign['note'])}</blockquote>"
    return section("sign-off", "Sign-off", body)
