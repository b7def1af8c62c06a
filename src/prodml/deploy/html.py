"""A comparison of a candidate with its primary as one self-contained HTML page, to open
offline or attach to a review.

The input is the dict form of a :class:`~prodml.deploy.compare.Comparison` (what
``prodml deployments compare --json`` prints). Python formats the numbers;
the markup is the template ``report_compare.html`` (with the other report pages' frame,
``_report.html``): the style is inline, there is no script, no font and no URL, and every
string from the comparison is escaped.

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
from prodml.page import BASE_STYLE, template

__all__ = ["render"]

SIDES = ("primary", "candidate")
#: Why a slice of ``evaluate.slices`` may not be cut from the prediction log.
UNSLICED = (
    "the prediction log holds the model's inputs and only the data.metadata fields sent "
    "with the requests: send them beside the inputs (V2: in the request's parameters) to "
    "have them logged"
)


def render(comparison: Mapping[str, Any]) -> str:
    """The whole page for ``comparison``, in its dict form (template ``report_compare.html``)."""
    c = comparison
    return template(
        "report_compare.html",
        style=BASE_STYLE,
        unsliced=UNSLICED,
        endpoint=str(c.get("endpoint", "")),
        kind=str(c.get("kind", "")),
        primary=c["primary"]["version"],
        candidate=c["candidate"]["version"],
        how=_how(c),
        agreement=None if c.get("agreement") is None else _percent(c["agreement"]),
        interval=_span(c.get("interval")),
        sides=_sides(c),
        answers=_answers(c),
        drift=_drift(c),
        slices=_slices(c),
    )


def _how(c: Mapping[str, Any]) -> str:
    """How the two were compared, over which period."""
    until = "on (going on)" if c.get("until") is None else f"to {moment(c['until'])}"
    period = f"from {moment(c['since'])} {until}"
    if c["kind"] == "shadow":
        return (
            f"Paired: both answered the same {c.get('pairs', 0):,} requests, {period}; each "
            "pair is compared request by request."
        )
    first, second = c["primary"]["answers"], c["candidate"]["answers"]
    return (
        f"Over the same period, {period}: each answered requests of its own ({first:,} and "
        f"{second:,}), so nothing is paired."
    )


def _sides(c: Mapping[str, Any]) -> dict[str, Any]:
    first, second, d = c["primary"], c["candidate"], c.get("deltas") or {}
    latency = [
        [
            f"latency {q} (ms)",
            *(_number(arm["latency_ms"].get(q)) for arm in (first, second)),
            _number(d.get(f"latency_{q}_ms"), "+"),
        ]
        for q in ("p50", "p95")
    ]
    rows = [
        ["answers", f"{first['answers']:,}", f"{second['answers']:,}", ""],
        *latency,
        ["server errors", _errors(first), _errors(second), _percent(d.get("error_rate"), "+")],
        ["labelled", f"{first['labelled']:,}", f"{second['labelled']:,}", ""],
        ["accuracy", *(_percent(arm["accuracy"]) for arm in (first, second)),
         _percent(d.get("accuracy"), "+")],
        ["95% interval", *(_span(arm["interval"]) for arm in (first, second)),
         _span(c.get("accuracy_interval"), "+")],
    ]  # fmt: skip
    gaps = ", ".join(f"{k} {v:.4g}" for k, v in (c.get("difference") or {}).items())
    mcnemar, said = c.get("mcnemar") or {}, ""
    if mcnemar:
        said = (
            f"On the {first['labelled']:,} labelled requests only the primary was right on "
            f"{mcnemar['only_primary']:g}, only the shadow on {mcnemar['only_shadow']:g}: "
            f"McNemar's exact test p = {mcnemar['p']:.3g}."
        )
    head = ["", *_arms(first, second), "difference"]
    return {"head": head, "rows": rows, "gaps": gaps, "mcnemar": said}


def _answers(c: Mapping[str, Any]) -> dict[str, Any] | None:
    """A shadow's confusion between the two answers, or each side's answers by class."""
    confusion = c.get("confusion") or {}
    if confusion:
        labels = sorted({y for row in confusion.values() for y in row} | set(confusion))
        rows = [[x, *(f"{confusion.get(x, {}).get(y, 0):,}" for y in labels)] for x in labels]
        head = ["primary \\ shadow", *labels]
        return {"title": "Where they disagree", "head": head, "rows": rows}
    arms = [c["primary"], c["candidate"]]
    labels = sorted({label for arm in arms for label in arm.get("predicted") or {}})
    if not labels:
        return None
    rows = [[label, *(_share(arm, label) for arm in arms)] for label in labels]
    return {"title": "Answers by class", "head": ["class", *_arms(*arms)], "rows": rows}


def _drift(c: Mapping[str, Any]) -> list[tuple[str, str, str, str, bool]]:
    """Each output's test: its name, method, statistic, p-value and whether it drifted."""
    return [
        (
            name,
            s["method"],
            "inf" if s["score"] is None else f"{s['score']:.4g}",
            "-" if s["p_value"] is None else f"{s['p_value']:.3g}",
            bool(s["drifted"]),
        )
        for name, s in (c.get("drift") or {}).items()
    ]


def _slices(c: Mapping[str, Any]) -> dict[str, Any]:
    """A shadow's pairs by slice: agreement, each side's accuracy on the labelled ones; a
    canary's answers by slice: each side's counts and accuracy."""
    slices: Sequence[Mapping[str, Any]] = c.get("slices") or []
    kind, shadow = c["kind"], c["kind"] == "shadow"
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
        rows.append(([s["name"], *counts, *labelled, *accuracy], bool(s["sufficient"])))
    if shadow:
        head = ["slice", "pairs", "agreement", "95% interval", "labelled"]
    else:
        head = ["slice", "primary", kind, "labelled primary", f"labelled {kind}"]
    return {
        "head": [*head, "accuracy primary", f"accuracy {kind}"],
        "rows": rows,
        "min_count": c.get("min_count"),
        "unit": "pairs" if shadow else "labelled answers a side",
        "unsliced": list(c.get("unsliced") or []),
    }


def _arms(*arms: Mapping[str, Any]) -> list[str]:
    return [f"{arm['role']} {arm['version']}" for arm in arms]


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
