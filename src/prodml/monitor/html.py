"""The monitoring report of one endpoint as one self-contained HTML page, to open offline.

The input is what :func:`prodml.monitor.report.monitor_report` returns. Python chooses the
rows and formats the numbers, :mod:`prodml.monitor.charts` computes the charts' drawings;
the markup is the template ``report_monitor.html`` (on the report pages' frame,
``_report.html``). Like the evaluation page (:mod:`prodml.evaluate.html`), the page needs
nothing beyond itself: the style is inline, the charts are SVG, and there is no script, no
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
from prodml.page import BASE_STYLE, clip, template

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

Scores = dict[tuple[str, str], dict[Any, Mapping[str, Any]]]


def render(report: Mapping[str, Any]) -> str:
    """The whole page for ``report``, a monitoring report in its JSON form."""
    windows, by_column = list(report.get("windows") or []), _by_column(report)
    firing = sum(1 for a in report.get("alerts") or [] if not a.get("resolved_at"))
    shown = bool(windows)  # without windows, the page says how to have some
    return template(
        "report_monitor.html",
        style=BASE_STYLE,
        endpoint=report.get("endpoint", ""),
        generated=moment(report.get("generated_at")),
        firing=_plural(firing, "alert") if firing else "",
        summary=_summary(windows) if shown else None,
        alerts=_alerts(report),
        change_points=_change_points(report) if shown or report.get("change_points") else None,
        software=_software(windows) if shown else None,
        drift=_drift(by_column, windows) if shown and by_column else None,
        heat=_heat_map(by_column, windows) if shown and by_column else None,
        skew=_skew(report) if shown else None,
        distributions=_distributions(report) if shown else None,
    )


def _summary(windows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The windows, their rows, the newest's drift share and the period they cover."""
    newest = windows[-1]
    return {
        "windows": _plural(len(windows), "window"),
        "rows": _plural(sum(w.get("rows") or 0 for w in windows), "row"),
        "newest": newest.get("id"),
        "share": number((newest.get("metrics") or {}).get("drift_share"), "drift_share"),
        "span": f"{moment(windows[0].get('starts_at'))} to {moment(newest.get('ends_at'))}",
        "model": newest.get("model", "—"),
    }


def _alerts(report: Mapping[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The alerts, firing then resolved, newest first in each group."""
    alerts = list(report.get("alerts") or [])
    newest_first = sorted(alerts, key=lambda a: str(a.get("fired_at") or ""), reverse=True)
    groups = []
    for state in ("firing", "resolved"):
        rows = [
            _alert_row(a)
            for a in newest_first
            if bool(a.get("resolved_at")) == (state == "resolved")
        ]
        if rows:
            groups.append((state, rows))
    return groups


def _alert_row(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "rule": alert.get("rule", ""),
        "value": number(alert.get("value"), str(alert.get("metric") or "")),
        "window": alert.get("window_id", "—"),
        "fired": moment(alert.get("fired_at")),
        "resolved": moment(alert["resolved_at"]) if alert.get("resolved_at") else "—",
        "deliveries": [_delivery(d) for d in (alert.get("deliveries") or {}).get("webhooks") or []],
    }


def _delivery(d: Mapping[str, Any]) -> dict[str, Any]:
    """A webhook's delivery: whether it went through, to which host, its status and tries,
    and why it failed (each address in the error cut to its host)."""
    status = f"status {d['status']}" if d.get("status") is not None else "no answer"
    attempts = d.get("attempts") or 1
    tries = f", {_plural(int(attempts), 'attempt')}" if attempts != 1 else ""
    error = "" if d.get("ok") else _URL.sub(lambda m: _host(m.group()), str(d.get("error") or ""))
    return {
        "ok": bool(d.get("ok")),
        "host": _host(str(d.get("url") or "")),
        "how": f"{status}{tries}",
        "error": clip(error, 120),
    }


def _host(url: str) -> str:
    """A webhook's host alone: its path and query often hold a token."""
    return urlsplit(url).hostname or "webhook"


def _change_points(report: Mapping[str, Any]) -> list[list[str]]:
    """Each change point, newest first: the detector, where it began, where it was found."""
    points = report.get("change_points") or []
    return [
        [
            str(_DETECTORS.get(str(p.get("detector")), p.get("detector", ""))),
            f"prediction #{p.get('started_id')}, {moment(p.get('started_at'))}",
            f"prediction #{p.get('detected_id')}, {moment(p.get('detected_at'))}",
        ]
        for p in sorted(points, key=lambda p: str(p.get("detected_at") or ""), reverse=True)
    ]


def _software(windows: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """A chart per metric of :data:`_SOFTWARE` that a window has, with its title."""
    figures = []
    for title, keys in _SOFTWARE:
        series = [
            (name, [(w.get("metrics") or {}).get(key) for w in windows]) for name, key in keys
        ]
        series = [(name, values) for name, values in series if not all(map(not_number, values))]
        if series:
            key = keys[0][1]
            newest = ", ".join(f"{name} {number(values[-1], key)}" for name, values in series)
            figures.append(
                (title, line_chart(f"{title} by window; newest: {newest}", key, windows, series))
            )
    return figures


def _by_column(report: Mapping[str, Any]) -> Scores:
    """The drift and prediction scores by (kind, column), then by window."""
    by_column: Scores = {}
    for s in report.get("scores") or []:
        if s.get("kind") in ("drift", "prediction"):
            by_column.setdefault((s["kind"], str(s.get("column", ""))), {})[s.get("window_id")] = s
    return by_column


def _drift(by_column: Scores, windows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The drift charts of the features and of the predictions."""
    return {
        title: [
            _drift_chart(column, found, windows)
            for (k, column), found in by_column.items()
            if k == kind
        ]
        for kind, title in (("drift", "Features"), ("prediction", "Predictions"))
    }


def _drift_chart(
    column: str, found: Mapping[Any, Mapping[str, Any]], windows: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A column's drift score by window against its threshold, its caption's parts."""
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
    return {
        "column": column,
        "method": method,
        "drifted": bool(newest.get("drifted")),
        "chart": chart,
    }


def _heat_map(by_column: Scores, windows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The newest :data:`HEAT_WINDOWS` windows' scores, a row per column: each cell's score,
    whether it drifted and its tint (None: no score)."""
    shown = list(windows[-HEAT_WINDOWS:])
    rows = []
    for (kind, column), found in by_column.items():
        cells = []
        for w in shown:
            s = found.get(w.get("id"))
            tint = _tint(s.get("score"), _on_score(s)) if s else ""
            cells.append((number(s.get("score")), bool(s.get("drifted")), tint) if s else None)
        rows.append((column, kind == "prediction", cells))
    return {
        "heads": [(w.get("id"), moment(w.get("ends_at"), short=True)) for w in shown],
        "rows": rows,
        "kept": f", the newest {len(shown)} of {len(windows)}" if len(windows) > len(shown) else "",
    }


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


def _skew(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The training-serving skew of each column."""
    return [
        {
            "column": s.get("column", ""),
            "method": s.get("method", ""),
            "score": number(s.get("score")),
            "p": _p_value(s.get("p_value")),
            "limit": _limit(s, ""),
            "window": s.get("window_id"),
            "drifted": bool(s.get("drifted")),
        }
        for s in report.get("scores") or []
        if s.get("kind") == "skew"
    ]


def _p_value(value: Any) -> str:
    return "< 0.001" if not not_number(value) and value < 0.001 else number(value)


def _distributions(report: Mapping[str, Any]) -> dict[str, Any]:
    """The newest window and, per column, its scores and its chart of reference and
    current shares."""
    windows = report.get("windows") or []
    newest = windows[-1] if windows else {}
    newest_scores = {
        str(s.get("column")): s
        for s in report.get("scores") or []
        if s.get("kind") == "drift" and s.get("window_id") == newest.get("id")
    }
    figures = []
    for name, dist in (report.get("distributions") or {}).items():
        score = newest_scores.get(str(name)) or {}
        said = None
        if score:
            said = {
                "method": score.get("method", ""),
                "score": number(score.get("score")),
                "limit": _limit(score),
                "drifted": bool(score.get("drifted")),
            }
        figures.append((name, said, bars(str(name), dist)))
    return {
        "window": newest.get("id", "—"),
        "period": f"{moment(newest.get('starts_at'))} to {moment(newest.get('ends_at'))}",
        "figures": figures,
    }


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")
