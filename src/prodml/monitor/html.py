"""The monitoring report of one endpoint as one self-contained HTML page, to open offline.

The input is what :func:`prodml.monitor.report.monitor_report` returns. Like the evaluation
page (:mod:`prodml.evaluate.html`), the page needs nothing beyond itself: the style is
inline, the charts are SVG drawn here, and there is no script, no font and no URL. Every
string from the report is escaped, and a webhook is named by its host alone: the rest of
its address often holds a token.

>>> page = render({"endpoint": "loans", "generated_at": "2026-11-22T10:00:00+00:00",
...                "windows": [], "scores": [], "alerts": [], "change_points": [],
...                "distributions": {}})
>>> page.startswith("<!DOCTYPE html>"), "<code>prodml monitor --once</code>" in page
(True, True)
>>> "<script" in page, "http" in page
(False, False)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

from prodml.page import (
    BASE_STYLE,
    clip,
    document,
    el,
    escape,
    missing,
    muted,
    section,
    svg,
    table,
    tr,
)

__all__ = ["HEAT_WINDOWS", "render"]

#: The heat map shows this many windows, the newest; the charts show every window.
HEAT_WINDOWS = 24

# A line chart, in pixels: its size, then the room left, right, above and below the plot.
_W, _H, _L, _R, _T, _B = 340, 160, 58, 14, 12, 24
# A line chart marks every point (each with its tooltip) up to this many windows, then only
# the drifted ones: the page stays small over a long history.
_MARKED = 60
# A distribution chart: the plot's height, a bin's width, the room left of the plot.
_BAR_H, _BIN_W, _BAR_L = 130, 40, 46

# Metrics shown as percentages and as counts; latencies (``*_seconds``) are shown in ms.
_PERCENT = {"error_rate", "drift_share", "null_share", "deferred_share", "labelled_share"}
_PERCENT_PREFIXES = ("missing.", "out_of_range.", "unseen.", "class_share.")
_COUNT = {"requests", "errors", "rows", "labelled"}

# The charts of the software and output section: a title, then (series, metric) pairs.
_SOFTWARE = (
    ("Latency", (("p50", "latency_p50_seconds"), ("p95", "latency_p95_seconds"),
                 ("p99", "latency_p99_seconds"))),
    ("Error rate", (("error rate", "error_rate"),)),
    ("Throughput (requests/s)", (("throughput", "throughput_per_second"),)),
    ("Mean confidence", (("mean confidence", "mean_confidence"),)),
    ("Accuracy (from feedback)", (("accuracy", "accuracy"),)),
    ("MAE (from feedback)", (("MAE", "mae"),)),
)  # fmt: skip
_DETECTORS = {"page_hinkley": "Page-Hinkley", "adwin": "ADWIN"}
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)

_STYLE = (
    BASE_STYLE
    + """main { max-width: 1180px; } h1 { margin: 0 0 6px; } h2 { margin: 0 0 10px; }
h3 { font-size: 15px; margin: 18px 0 8px; } p { margin: 4px 0; }
.summary { font-size: 15px; } .hint { margin-top: 12px; padding: 10px 14px; border-radius: 6px;
  border: 1px solid #d4a72c; background: #fff8c5; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 10px; color: #fff;
  font-weight: 600; background: #1a7f37; } .badge.firing { background: #cf222e; }
th, td { text-align: left; }
th { background: #f6f8fa; } td.num, th.num { text-align: right; white-space: nowrap; }
tbody.firing td { color: #a40e26; background: #fff5f5; } tbody.firing .state { font-weight: 700; }
tbody.resolved td { color: #59636e; }
code, th .muted { white-space: nowrap; }
.heat td.drifted { background: #ffcecb; color: #82071e; font-weight: 700; }
.bad { color: #a40e26; font-weight: 700; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; border: 1px solid #eaeef2; border-radius: 6px; padding: 6px 8px; }
figcaption { font-weight: 600; margin-bottom: 2px; } figcaption .muted { font-weight: 400; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
  vertical-align: -1px; margin: 0 4px 0 12px; } .swatch.reference { background: #0969da; }
.swatch.current { background: #bc4c00; } .swatch.drifted { background: #cf222e; }
svg text { font: 11px sans-serif; } svg .base { stroke: #8c959f; }
svg .line { fill: none; stroke-width: 2; } svg .threshold { fill: none; stroke: #59636e;
  stroke-width: 1.5; stroke-dasharray: 5 4; }
svg .s0 { stroke: #0969da; fill: #0969da; } svg .s1 { stroke: #bc4c00; fill: #bc4c00; }
svg .s2 { stroke: #8250df; fill: #8250df; } svg .line.s1 { stroke-dasharray: 7 3; fill: none; }
svg .line.s2 { stroke-dasharray: 2 2; fill: none; } svg .line.s0 { fill: none; }
svg .drifted { fill: #cf222e; stroke: #fff; stroke-width: 1.5; }
svg .reference { fill: #0969da; } svg .current { fill: #bc4c00; }
"""
)


def render(report: Mapping[str, Any]) -> str:
    """The whole page for ``report``, a monitoring report in its JSON form."""
    windows = list(report.get("windows") or [])
    sections = [_header(report, windows), _alerts(report)]
    if windows or report.get("change_points"):
        sections.append(_change_points(report))
    if windows:
        sections += [_software(windows), _drift(report, windows), _distributions(report)]
    return document(f"Monitoring of {report.get('endpoint', '')}", _STYLE, sections)


# --- formatting and markup ------------------------------------------------------------------


def _not_number(value: Any) -> bool:
    """Whether ``value`` cannot be drawn: None, nan, a boolean or not a number at all."""
    return (
        value is None
        or isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
    )


def _fmt(value: Any, key: str = "") -> str:
    """A number for people, escaped: 0.312, 12.3 ms, 33.3%, 1,500; a dash when undefined."""
    if missing(value):
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(value)
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


def _when(value: Any, short: bool = False) -> str:
    """An ISO time, easier to read: ``2026-11-22 10:00:00 UTC`` (short: ``11-22 10:00``)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return escape(value or "—")
    if short:
        return moment.strftime("%m-%d %H:%M")
    zone = moment.strftime("%z")
    zone = " UTC" if zone in ("+0000", "") else f" {zone[:3]}:{zone[3:]}"
    return moment.strftime("%Y-%m-%d %H:%M:%S") + zone


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _charts(figures: Sequence[str]) -> str:
    return '\n<div class="charts">\n' + "\n".join(figures) + "\n</div>"


def _figure(caption: str, chart: str) -> str:
    return f"<figure>\n<figcaption>{caption}</figcaption>\n{chart}\n</figure>"


# --- sections -------------------------------------------------------------------------------


def _header(report: Mapping[str, Any], windows: Sequence[Mapping[str, Any]]) -> str:
    firing = sum(1 for a in report.get("alerts") or [] if not a.get("resolved_at"))
    badge = (
        f'<span class="badge firing">{_plural(firing, "alert")} firing</span>'
        if firing
        else '<span class="badge">no alert firing</span>'
    )
    parts = [
        f"<header>\n<h1>Monitoring of {escape(report.get('endpoint', ''))}</h1>",
        muted(f"Generated {_when(report.get('generated_at'))}"),
    ]
    if not windows:
        parts.append(f'<p class="summary">No windows yet. {badge}</p>')
        parts.append(
            '<p class="hint">The monitor has not read this endpoint\'s predictions yet. Run '
            "<code>prodml monitor --once</code> to cut the prediction log into windows and "
            "score them, then render this report again.</p>"
        )
        return "\n".join([*parts, "</header>"])
    newest, rows = windows[-1], sum(w.get("rows") or 0 for w in windows)
    share = (newest.get("metrics") or {}).get("drift_share")
    span = f"{_when(windows[0].get('starts_at'))} to {_when(newest.get('ends_at'))}"
    parts.append(
        f'<p class="summary">{_plural(len(windows), "window")} · {_plural(rows, "row")} · '
        f"newest window #{escape(newest.get('id'))}: drift share <strong>"
        f"{_fmt(share, 'drift_share')}</strong> · {badge}</p>"
    )
    parts.append(muted(f"From {span}; newest model {escape(newest.get('model', '—'))}."))
    return "\n".join([*parts, "</header>"])


def _alerts(report: Mapping[str, Any]) -> str:
    alerts = list(report.get("alerts") or [])
    if not alerts:
        return section("alerts", "Alerts", muted("No alert has fired."))
    newest_first = sorted(alerts, key=lambda a: str(a.get("fired_at") or ""), reverse=True)
    groups = []
    for state in ("firing", "resolved"):
        rows = [
            _alert_row(a, state)
            for a in newest_first
            if bool(a.get("resolved_at")) == (state == "resolved")
        ]
        if rows:
            groups.append(f'<tbody class="{state}">\n' + "\n".join(rows) + "\n</tbody>")
    head = ["state", "rule", '<th class="num">value</th>', "window", "fired", "resolved",
            "webhooks"]  # fmt: skip
    return section("alerts", "Alerts", table(head, groups))


def _alert_row(alert: Mapping[str, Any], state: str) -> str:
    resolved = _when(alert["resolved_at"]) if alert.get("resolved_at") else "—"
    return tr(
        [
            f'<td class="state">{"● firing" if state == "firing" else "resolved"}</td>',
            f"<code>{escape(alert.get('rule', ''))}</code>",
            f'<td class="num">{_fmt(alert.get("value"), str(alert.get("metric") or ""))}</td>',
            f"#{escape(alert.get('window_id', '—'))}",
            _when(alert.get("fired_at")),
            resolved,
            _deliveries((alert.get("deliveries") or {}).get("webhooks") or []),
        ]
    )


def _deliveries(deliveries: Sequence[Mapping[str, Any]]) -> str:
    if not deliveries:
        return '<span class="muted">none sent</span>'
    shown = []
    for d in deliveries:
        host = _host(str(d.get("url") or ""))
        status = f"status {escape(d['status'])}" if d.get("status") is not None else "no answer"
        attempts = d.get("attempts") or 1
        tries = f", {_plural(int(attempts), 'attempt')}" if attempts != 1 else ""
        if d.get("ok"):
            shown.append(f'<span class="ok">✓ delivered</span> to {escape(host)} ({status}{tries})')
        else:
            error = _URL.sub(lambda m: _host(m.group()), str(d.get("error") or ""))
            reason = f": {escape(clip(error, 120))}" if error else ""
            shown.append(
                f'<span class="bad">✗ failed</span> to {escape(host)} ({status}{tries}){reason}'
            )
    return "<br>".join(shown)


def _host(url: str) -> str:
    """A webhook's host alone: its path and query often hold a token."""
    return urlsplit(url).hostname or "webhook"


def _change_points(report: Mapping[str, Any]) -> str:
    points = report.get("change_points") or []
    note = "Where a streaming detector saw the error rate change, newest first."
    if not points:
        return section("change-points", "Change points", muted("No change point was found."))
    rows = [
        tr(
            [
                escape(_DETECTORS.get(str(p.get("detector")), p.get("detector", ""))),
                f"prediction #{escape(p.get('started_id'))}, {_when(p.get('started_at'))}",
                f"prediction #{escape(p.get('detected_id'))}, {_when(p.get('detected_at'))}",
            ]
        )
        for p in sorted(points, key=lambda p: str(p.get("detected_at") or ""), reverse=True)
    ]
    shown = table(["detector", "began at", "found at"], rows)
    return section("change-points", "Change points", f"{muted(note)}\n{shown}")


def _software(windows: Sequence[Mapping[str, Any]]) -> str:
    figures = []
    for title, keys in _SOFTWARE:
        series = [
            (name, [(w.get("metrics") or {}).get(key) for w in windows]) for name, key in keys
        ]
        series = [(name, values) for name, values in series if not all(map(_not_number, values))]
        if series:
            key = keys[0][1]
            newest = ", ".join(f"{name} {_fmt(values[-1], key)}" for name, values in series)
            chart = _line_chart(f"{title} by window; newest: {newest}", key, windows, series)
            figures.append(_figure(escape(title), chart))
    if not figures:
        return section("software", "Software and output over time", muted("No metrics yet."))
    note = muted("One point per window, oldest on the left; a point's tooltip gives its time.")
    return section("software", "Software and output over time", note + _charts(figures))


def _drift(report: Mapping[str, Any], windows: Sequence[Mapping[str, Any]]) -> str:
    scores = [s for s in report.get("scores") or [] if s.get("kind") in ("drift", "prediction")]
    if not scores:
        return section("drift", "Drift over time", muted("No drift scores yet."))
    by_column: dict[tuple[str, str], dict[Any, Mapping[str, Any]]] = {}
    for s in scores:
        by_column.setdefault((s["kind"], str(s.get("column", ""))), {})[s.get("window_id")] = s
    parts = [
        muted(
            "A feature's drift score against the reference, by window (oldest on the left); "
            'the dashed line is its threshold, <span class="swatch drifted"></span>'
            "red points are windows where it drifted."
        )
    ]
    for kind, title in (("drift", "Features"), ("prediction", "Predictions")):
        figures = [
            _drift_chart(column, found, windows)
            for (k, column), found in by_column.items()
            if k == kind
        ]
        if figures:
            parts.append(f"<h3>{title}</h3>" + _charts(figures))
    parts += [_heat_map(by_column, windows), _skew(report)]
    return section("drift", "Drift over time", "\n".join(p for p in parts if p))


def _drift_chart(
    column: str, found: Mapping[Any, Mapping[str, Any]], windows: Sequence[Mapping[str, Any]]
) -> str:
    row = [found.get(w.get("id")) or {} for w in windows]
    values, thresholds = [s.get("score") for s in row], [_on_score(s) for s in row]
    drifted = [bool(s.get("drifted")) for s in row]
    newest: Mapping[str, Any] = next((s for s in reversed(row) if s), {})
    method = str(newest.get("method", ""))
    state = " drifted" if newest.get("drifted") else ""
    label = (
        f"{column}: {method} drift score by window; newest {_fmt(newest.get('score'))}{state}"
        f", {_limit(newest)}; drifted in {sum(drifted)} of "
        f"{sum(1 for s in row if s)} windows"
    )
    chart = _line_chart(label, "score", windows, [(column, values)], thresholds, drifted)
    tag = ' <span class="bad">drifted</span>' if newest.get("drifted") else ""
    caption = f'{escape(column)} <span class="muted">{escape(method)}</span>{tag}'
    return _figure(caption, chart)


def _heat_map(
    by_column: Mapping[tuple[str, str], Mapping[Any, Mapping[str, Any]]],
    windows: Sequence[Mapping[str, Any]],
) -> str:
    shown = list(windows[-HEAT_WINDOWS:])
    head = ["column"] + [
        f'<th class="num">#{escape(w.get("id"))}<br><span class="muted">'
        f"{_when(w.get('ends_at'), short=True)}</span></th>"
        for w in shown
    ]
    rows = []
    for (kind, column), found in by_column.items():
        tag = ' <span class="muted">(prediction)</span>' if kind == "prediction" else ""
        cells = [f"{escape(column)}{tag}"]
        for w in shown:
            s = found.get(w.get("id"))
            if not s:
                cells.append('<td class="num muted">—</td>')
            elif s.get("drifted"):
                cells.append(f'<td class="num drifted">{_fmt(s.get("score"))} drifted</td>')
            else:
                tint = _tint(s.get("score"), _on_score(s))
                cells.append(f'<td class="num" style="{tint}">{_fmt(s.get("score"))}</td>')
        rows.append(tr(cells))
    kept = f", the newest {len(shown)} of {len(windows)}" if len(windows) > len(shown) else ""
    note = muted(
        f"Score per column and window{kept}; the deeper the blue, the nearer the threshold; "
        "red cells drifted."
    )
    return f"<h3>Heat map</h3>\n{note}\n" + table(head, rows, "heat")


def _on_score(score: Mapping[str, Any]) -> Any:
    """The threshold a score is held against, or None when a p-value decides (KS and
    chi-square by default: drift when the corrected p-value is below it)."""
    return score.get("threshold") if score.get("threshold_on", "score") == "score" else None


def _limit(score: Mapping[str, Any], word: str = "threshold ") -> str:
    """What decides drift: ``threshold 0.1`` for a score, ``p < 0.05`` for a test."""
    if score.get("threshold_on", "score") == "score":
        return f"{word}{_fmt(score.get('threshold'))}"
    return f"p < {_fmt(score.get('threshold'))}"


def _tint(score: Any, threshold: Any) -> str:
    """A cell's blue, deeper as its score nears the threshold."""
    known = not (_not_number(score) or _not_number(threshold)) and threshold > 0
    ratio = min(max(score / threshold, 0.0), 1.0) if known else 0.0
    return f"background: rgba(84, 174, 255, {0.06 + 0.45 * ratio:.2f})"


def _skew(report: Mapping[str, Any]) -> str:
    scores = [s for s in report.get("scores") or [] if s.get("kind") == "skew"]
    if not scores:
        return ""
    rows = [
        tr(
            [
                escape(s.get("column", "")),
                escape(s.get("method", "")),
                f'<td class="num">{_fmt(s.get("score"))}</td>',
                f'<td class="num">{_p_value(s.get("p_value"))}</td>',
                f'<td class="num">{escape(_limit(s, ""))}</td>',
                f"#{escape(s.get('window_id'))}",
                _verdict(s),
            ]
        )
        for s in scores
    ]
    head = ["column", "method", '<th class="num">score</th>', '<th class="num">p-value</th>',
            '<th class="num">threshold</th>',
            "window", "result"]  # fmt: skip
    note = muted("The training data against the serving inputs.")
    return f"<h3>Training-serving skew</h3>\n{note}\n" + table(head, rows, "skew")


def _verdict(score: Mapping[str, Any]) -> str:
    return (
        '<span class="bad">drifted</span>' if score.get("drifted") else '<span class="ok">ok</span>'
    )


def _p_value(value: Any) -> str:
    return "&lt; 0.001" if not _not_number(value) and value < 0.001 else _fmt(value)


def _distributions(report: Mapping[str, Any]) -> str:
    found = report.get("distributions") or {}
    if not found:
        note = "No distributions: they need the reference profile of the newest window's model."
        return section("distributions", "Distributions", muted(note))
    windows = report.get("windows") or []
    newest = windows[-1] if windows else {}
    newest_scores = {
        str(s.get("column")): s
        for s in report.get("scores") or []
        if s.get("kind") == "drift" and s.get("window_id") == newest.get("id")
    }
    legend = (
        '<p><span class="swatch reference"></span>reference (the training profile)'
        '<span class="swatch current"></span>current (window '
        f"#{escape(newest.get('id', '—'))}, {_when(newest.get('starts_at'))} to "
        f"{_when(newest.get('ends_at'))})</p>"
    )
    figures = []
    for name, dist in found.items():
        score = newest_scores.get(str(name)) or {}
        state = (
            f' <span class="muted">{escape(score.get("method", ""))} {_fmt(score.get("score"))}, '
            f"{escape(_limit(score))}</span> {_verdict(score)}"
            if score
            else ""
        )
        figures.append(_figure(f"{escape(name)}{state}", _bars(str(name), dist)))
    return section("distributions", "Distributions", legend + _charts(figures))


# --- charts ---------------------------------------------------------------------------------


def _line_chart(
    label: str,
    key: str,
    windows: Sequence[Mapping[str, Any]],
    series: Sequence[tuple[str, Sequence[Any]]],
    threshold: Sequence[Any] = (),
    drifted: Sequence[bool] = (),
) -> str:
    """Values by window, one line per series (gaps where undefined), an optional dashed
    threshold, drifted points larger and red."""
    n, top = len(windows), _T + (18 if len(series) > 1 else 0)
    known = [float(v) for _, values in series for v in values if not _not_number(v)]
    known += [float(t) for t in threshold if not _not_number(t)]
    low = min([0.0, *known])
    lo, hi = -_nice(-low) if low < 0 else 0.0, _nice(max([0.0, *known]) * 1.05)
    hi = hi if hi > lo else 1.0

    def x(i: int) -> float:
        return _L + (_W - _L - _R) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: Any) -> float:
        return _H - _B - (float(v) - lo) / (hi - lo) * (_H - _B - top)

    parts = _y_axis(lo, hi, _L, _W - _R, y, key)
    for i in _labelled(n):
        parts.append(
            el("text", f"#{escape(windows[i].get('id'))}", class_="tick", x=x(i), y=_H - 10)
        )
    if any(not _not_number(t) for t in threshold):
        dashed = _path([(x(i), None if _not_number(t) else y(t)) for i, t in enumerate(threshold)])
        parts.append(el("path", class_="threshold", d=dashed))
    for s, (name, values) in enumerate(series):
        line = _path([(x(i), None if _not_number(v) else y(v)) for i, v in enumerate(values)])
        parts.append(el("path", class_=f"line s{s}", d=line))
        for i, v in enumerate(values):
            bad = i < len(drifted) and drifted[i]
            if _not_number(v) or not (bad or n <= _MARKED):
                continue
            when = _when(windows[i].get("ends_at"))
            at = f"window #{escape(windows[i].get('id'))} (ending {when})"
            tip = f"{escape(name)}, {at}: {_fmt(v, key)}"
            title = el("title", tip + (" drifted" if bad else ""))
            cls = "point drifted" if bad else f"point s{s}"
            parts.append(el("circle", title, class_=cls, cx=x(i), cy=y(v), r=4.5 if bad else 2.5))
    for s, (name, _) in enumerate(series if len(series) > 1 else ()):
        left = _L + 8 + 70 * s
        parts.append(el("line", class_=f"line s{s}", x1=left, y1=_T, x2=left + 22, y2=_T))
        parts.append(el("text", escape(name), class_="start", x=left + 26, y=_T))
    return svg(_W, _H, parts, title=label, role="img")


def _y_axis(
    lo: float, hi: float, left: float, right: float, y: Callable[[float], float], key: str
) -> list[str]:
    """Grid lines at the bottom, middle and top of a plot, labelled on its left."""
    parts = []
    for tick in (lo, (lo + hi) / 2, hi):
        cls = "base" if tick == lo else "grid"
        parts.append(el("line", class_=cls, x1=left, y1=y(tick), x2=right, y2=y(tick)))
        parts.append(el("text", _tick(tick, key), class_="tick end", x=left - 6, y=y(tick)))
    return parts


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


def _bars(name: str, dist: Mapping[str, Any]) -> str:
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
        return svg(
            200, 30, [el("text", "no values", x=100, y=15)], title=f"{name}: no values", role="img"
        )
    longest = 0 if numeric else max(len(clip(label, 16)) for label in labels)
    top, width = 10, _BAR_L + n * _BIN_W + 20
    height = top + _BAR_H + (24 if numeric else 16 + 5 * longest)
    hi = _nice(max([*reference, *current, 0.0]) * 1.05) or 1.0

    def y(share: float) -> float:
        return top + _BAR_H - share / hi * _BAR_H

    parts, bar, base = (
        _y_axis(0.0, hi, _BAR_L, width - 20, y, "share"),
        (_BIN_W - 8) / 2,
        top + _BAR_H,
    )
    for i in range(n):
        left = _BAR_L + i * _BIN_W + 4
        ref, cur = float(reference[i]), float(current[i]) if i < len(current) else 0.0
        g = [
            el(
                "title",
                f"{escape(name)} {escape(labels[i])}: reference {ref:.1%}, current {cur:.1%}",
            )
        ]
        for at, cls, share in ((left, "reference", ref), (left + bar, "current", cur)):
            g.append(el("rect", class_=cls, x=at, y=y(share), width=bar, height=base - y(share)))
        parts.append(el("g", "".join(g), class_="bin"))
        if not numeric:
            turn = f"translate({left + bar:.1f} {base + 8}) rotate(-40)"
            parts.append(el("text", escape(clip(labels[i], 16)), class_="end", transform=turn))
    step = 2 if n > 8 else 1  # every other edge when there are many, so that they fit
    for i, edge in enumerate(edges if numeric else []):
        if i % step == 0:
            x = _BAR_L + i * _BIN_W
            parts.append(el("text", _short(edge), class_="tick", x=x, y=base + 12))
    kind = "bin" if numeric else "category"
    label = f"{name}: share of rows per {kind}, reference and current"
    return svg(width, height, parts, title=label, role="img")
