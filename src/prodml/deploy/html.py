"""A comparison of a candidate with its primary as one self-contained HTML page, to open
offline or attach to a review.

The input is the dict form of a :class:`~prodml.deploy.compare.Comparison` (what
``prodml deployments compare --json`` prints). As the evaluation and monitoring pages, it is
made of :mod:`prodml.page`'s parts: the style is inline, there is no script, no font and
no URL, and every string from the comparison is escaped.

>>> arm = {"version": 1, "role": "primary", "answers": 0, "predicted": {}, "latency_ms": {},
...        "errors": 0, "error_rate": None, "labelled": 0, "accuracy": None, "interval": None}
>>> page = render({"endpoint": "loans", "kind": "canary", "since": "2026-11-22 10:00",
...                "until": None, "primary": arm, "candidate": {**arm, "version": 2,
...                "role": "canary"}, "deltas": {}, "min_count": 30})
>>> page.startswith("<!DOCTYPE html>"), "Canary comparison of loans:2" in page
(True, True)
>>> "<script" in page, "http" in page
(False, False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prodml.monitor.charts import moment
from prodml.page import BASE_STYLE, document, el, escape, muted, section, table, tr

__all__ = ["render"]

SIDES = ("primary", "candidate")
#: Why a slice of ``evaluate.slices`` may not be cut from the prediction log.
UNSLICED = (
    "the prediction log holds the model's inputs and only the data.metadata fields sent "
    "with the requests: send them beside the inputs (V2: in the request's parameters) to "
    "have them logged"
)

_STYLE = (
    BASE_STYLE
    + """main { max-width: 1000px; } h1 { margin: 0 0 6px; } h2 { margin: 0 0 10px; }
p { margin: 4px 0; } th, td { text-align: right; }
th:first-child, td:first-child { text-align: left; } .headline { font-size: 18px; }
tr.insufficient td { color: #59636e; font-style: italic; } .bad { color: #cf222e; }
"""
)


def render(comparison: Mapping[str, Any]) -> str:
    """The whole page for ``comparison``, in its dict form."""
    c = comparison
    name = escape(c.get("endpoint", ""))
    title = f"{str(c.get('kind', '')).capitalize()} comparison of {c.get('endpoint', '')}"
    sections = [_header(c, name), _sides(c), _answers(c), _drift(c), _slices(c)]
    return document(title, _STYLE, sections)


def _header(c: Mapping[str, Any], name: str) -> str:
    first, second, kind = c["primary"], c["candidate"], escape(c["kind"])
    period = f"from {moment(c['since'])} " + (
        "on (going on)" if c.get("until") is None else f"to {moment(c['until'])}"
    )
    if c["kind"] == "shadow":
        how = (
            f"Paired: both answered the same {c.get('pairs', 0):,} requests, {period}; each "
            "pair is compared request by request."
        )
    else:
        how = (
            f"Over the same period, {period}: each answered requests of its own "
            f"({first['answers']:,} and {second['answers']:,}), so nothing is paired."
        )
    parts = [
        f"<h1>{kind.capitalize()} comparison of {name}:{second['version']} ({kind}) "
        f"beside {name}:{first['version']} (primary)</h1>",
        muted(how),
    ]
    if c.get("agreement") is not None:
        parts.append(
            f'<p class="headline">They agree on {_percent(c["agreement"])} '
            f"(95% interval {_span(c.get('interval'))}).</p>"
        )
    return "<header>\n" + "\n".join(parts) + "\n</header>"


def _sides(c: Mapping[str, Any]) -> str:
    first, second, d = c["primary"], c["candidate"], c.get("deltas") or {}
    head = ["", *(f"{escape(arm['role'])} {arm['version']}" for arm in (first, second))]
    rows = [
        tr(["answers", f"{first['answers']:,}", f"{second['answers']:,}", ""]),
        *(
            tr(
                [
                    f"latency {q} (ms)",
                    *(_number(arm["latency_ms"].get(q)) for arm in (first, second)),
                    _number(d.get(f"latency_{q}_ms"), "+"),
                ]
            )
            for q in ("p50", "p95")
        ),
        tr(["server errors", _errors(first), _errors(second), _percent(d.get("error_rate"), "+")]),
        tr(["labelled", f"{first['labelled']:,}", f"{second['labelled']:,}", ""]),
        tr(
            [
                "accuracy",
                _percent(first["accuracy"]),
                _percent(second["accuracy"]),
                _percent(d.get("accuracy"), "+"),
            ]
        ),
        tr(
            [
                "95% interval",
                _span(first["interval"]),
                _span(second["interval"]),
                _span(c.get("accuracy_interval"), "+"),
            ]
        ),
    ]
    body = table([*head, "difference"], rows)
    if c.get("difference"):
        gaps = ", ".join(f"{escape(k)} {v:.4g}" for k, v in c["difference"].items())
        body += muted(f"|primary - shadow|: {gaps}.")
    mcnemar = c.get("mcnemar") or {}
    if mcnemar:
        body += muted(
            f"On the {first['labelled']:,} labelled requests only the primary was right on "
            f"{mcnemar['only_primary']:g}, only the shadow on {mcnemar['only_shadow']:g}: "
            f"McNemar's exact test p = {mcnemar['p']:.3g}."
        )
    return section("sides", "Side by side", body)


def _answers(c: Mapping[str, Any]) -> str:
    """A shadow's confusion between the two answers, or each side's answers by class."""
    confusion = c.get("confusion") or {}
    if confusion:
        labels = sorted({y for row in confusion.values() for y in row} | set(confusion))
        rows = [
            tr([escape(x), *(f"{confusion.get(x, {}).get(y, 0):,}" for y in labels)])
            for x in labels
        ]
        head = ["primary \\ shadow", *(escape(y) for y in labels)]
        return section("answers", "Where they disagree", table(head, rows))
    arms = [c["primary"], c["candidate"]]
    labels = sorted({label for arm in arms for label in arm.get("predicted") or {}})
    if not labels:
        return ""
    rows = [tr([escape(label), *(_share(arm, label) for arm in arms)]) for label in labels]
    head = ["class", *(f"{escape(arm['role'])} {arm['version']}" for arm in arms)]
    return section("answers", "Answers by class", table(head, rows))


def _drift(c: Mapping[str, Any]) -> str:
    scores: Mapping[str, Any] = c.get("drift") or {}
    if not scores:
        return ""
    rows = []
    for name, s in scores.items():
        drifted = '<span class="bad">yes</span>' if s["drifted"] else "no"
        p = "-" if s["p_value"] is None else f"{s['p_value']:.3g}"
        score = "inf" if s["score"] is None else f"{s['score']:.4g}"
        rows.append(tr([escape(name), escape(s["method"]), score, p, drifted]))
    head = ["output", "test", "statistic", "p-value", "drifted"]
    title = f"Drift from the primary's outputs to the {escape(c['kind'])}'s"
    return section("drift", title, table(head, rows))


def _slices(c: Mapping[str, Any]) -> str:
    """A shadow's pairs by slice: agreement, each side's accuracy on the labelled ones; a
    canary's answers by slice: each side's counts and accuracy."""
    reasons = [f"<li>{escape(reason)}</li>" for reason in c.get("unsliced") or []]
    notes = muted(f"Not sliced ({UNSLICED}):") + el("ul", "".join(reasons)) if reasons else ""
    slices: Sequence[Mapping[str, Any]] = c.get("slices") or []
    if not slices:
        return section("slices", "By slice", notes) if notes else ""
    kind, shadow = escape(c["kind"]), c["kind"] == "shadow"
    rows = []
    for s in slices:
        accuracy = [_percent(s["accuracy"][side]) for side in SIDES]
        if shadow:
            agreement = _percent(s["agreement"]) if s["sufficient"] else "insufficient evidence"
            counts = [f"{s['rows']['primary']:,}", agreement, _span(s["interval"])]
            labelled = [f"{s['labelled']['primary']:,}"]
        else:
            counts = [f"{s['rows'][side]:,}" for side in SIDES]
            labelled = [f"{s['labelled'][side]:,}" for side in SIDES]
            accuracy = accuracy if s["sufficient"] else ["insufficient evidence", "-"]
        cells = [escape(s["name"]), *counts, *labelled, *accuracy]
        rows.append(tr(cells, "" if s["sufficient"] else "insufficient"))
    if shadow:
        head = ["slice", "pairs", "agreement", "95% interval", "labelled"]
    else:
        head = ["slice", "primary", kind, "labelled primary", f"labelled {kind}"]
    head += ["accuracy primary", f"accuracy {kind}"]
    unit = "pairs" if shadow else "labelled answers a side"
    note = muted(f"Insufficient evidence: under {c['min_count']} {unit}.")
    return section("slices", "By slice", table(head, rows) + note + notes)


def _share(arm: Mapping[str, Any], label: str) -> str:
    n = (arm.get("predicted") or {}).get(label, 0)
    return f"{n:,} ({n / arm['answers']:.1%})" if arm["answers"] else "-"


def _errors(arm: Mapping[str, Any]) -> str:
    return f"{_percent(arm['error_rate'])} ({arm['errors']:,})"


def _percent(value: float | None, sign: str = "") -> str:
    return "-" if value is None else f"{value:{sign}.1%}"


def _number(value: float | None, sign: str = "") -> str:
    return "-" if value is None else f"{value:{sign}.1f}"


def _span(interval: Sequence[float] | None, sign: str = "") -> str:
    if interval is None:
        return "-"
    return f"{interval[0]:{sign}.1%} to {interval[1]:{sign}.1%}"
