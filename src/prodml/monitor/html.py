"""The monitoring report of one endpoint as one self-contained HTML page, to open offline.

The input is what :func:`prodml.monitor.report.monitor_report` returns. Like the evaluation
page (:mod:`prodml.evaluate.html`), the page needs nothing beyond itself: the style is
inline, the charts are SVG (:mod:`prodml.monitor.charts`), and there is no script, no
font and no URL. Every string from the report is escaped, and a webhook is named by its
host alone: the rest of its address often holds a token.

>>> page = render({"endpoint": "loans", "generated_at": "2026-11-22T10:00:00+00:00",
...                "windows": [], "scores": [], "alerts": [], "change_points": [],
...                "distributions": {}})
>>> page.startswith("<!DOCTYPE html>"), "<code>prodml monitor --once</code>" in page
(True, True)
>>> "<script" in page, "http" in page
(False, False)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from prodml.monitor.charts import bars, line_chart, moment, not_number, number
from prodml.page import (
    BASE_STYLE,
    clip,
    document,
    escape,
    muted,
    section,
    table,
    tr,
)

__all__ = ["HEAT_WINDOWS", "render"]

#: The heat map shows this many windows, the newest; the charts show every window.
HEAT_WINDOWS = 24

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
        muted(f"Generated {moment(report.get('generated_at'))}"),
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
    span = f"{moment(windows[0].get('starts_at'))} to {moment(newest.get('ends_at'))}"
    parts.append(
        f'<p class="summary">{_plural(len(windows), "window")} · {_plural(rows, "row")} · '
        f"newest window #{escape(newest.get('id'))}: drift share <strong>"
        f"{number(share, 'drift_share')}</strong> · {badge}</p>"
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
    resolved = moment(alert["resolved_at"]) if alert.get("resolved_at") else "—"
    return tr(
        [
            f'<td class="state">{"● firing" if state == "firing" else "resolved"}</td>',
            f"<code>{escape(alert.get('rule', ''))}</code>",
            f'<td class="num">{number(alert.get("value"), str(alert.get("metric") or ""))}</td>',
            f"#{escape(alert.get('window_id', '—'))}",
            moment(alert.get("fired_at")),
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
                f"prediction #{escape(p.get('started_id'))}, {moment(p.get('started_at'))}",
                f"prediction #{escape(p.get('detected_id'))}, {moment(p.get('detected_at'))}",
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
        series = [(name, values) for name, values in series if not all(map(not_number, values))]
        if series:
            key = keys[0][1]
            newest = ", ".join(f"{name} {number(values[-1], key)}" for name, values in series)
            chart = line_chart(f"{title} by window; newest: {newest}", key, windows, series)
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
        f"{column}: {method} drift score by window; newest {number(newest.get('score'))}{state}"
        f", {_limit(newest)}; drifted in {sum(drifted)} of "
        f"{sum(1 for s in row if s)} windows"
    )
    chart = line_chart(label, "score", windows, [(column, values)], thresholds, drifted)
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
        f"{moment(w.get('ends_at'), short=True)}</span></th>"
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
                cells.append(f'<td class="num drifted">{number(s.get("score"))} drifted</td>')
            else:
                tint = _tint(s.get("score"), _on_score(s))
                cells.append(f'<td class="num" style="{tint}">{number(s.get("score"))}</td>')
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
        return f"{word}{number(score.get('threshold'))}"
    return f"p < {number(score.get('threshold'))}"


def _tint(score: Any, threshold: Any) -> str:
    """A cell's blue, deeper as its score nears the threshold."""
    known = not (not_number(score) or not_number(threshold)) and threshold > 0
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
                f'<td class="num">{number(s.get("score"))}</td>',
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
    return "&lt; 0.001" if not not_number(value) and value < 0.001 else number(value)


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
        f"#{escape(newest.get('id', '—'))}, {moment(newest.get('starts_at'))} to "
        f"{moment(newest.get('ends_at'))})</p>"
    )
    figures = []
    for name, dist in found.items():
        score = newest_scores.get(str(name)) or {}
        state = (
            f' <span class="muted">{escape(score.get("method", ""))} {number(score.get("score"))}, '
            f"{escape(_limit(score))}</span> {_verdict(score)}"
            if score
            else ""
        )
        figures.append(_figure(f"{escape(name)}{state}", bars(str(name), dist)))
    return section("distributions", "Distributions", legend + _charts(figures))
