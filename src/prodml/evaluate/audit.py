"""The audit: the rules a model must meet before it may be deployed, and the verdict.

Rules come from ``evaluate.audit`` in the project file and are checked against an
evaluation (see :mod:`prodml.evaluate.evaluation`). Each gives its value and a reason a
reviewer can read; the verdict passes when every rule does.

>>> from prodml.config import AuditRule
>>> report = {"positive_class": "1", "metrics": {"recall[1]": 0.75}, "slices": [],
...           "baselines": [], "golden": None}
>>> verdict = audit([AuditRule(metric="recall", min=0.8)], report)
>>> verdict["passed"], verdict["rules"][0]["reason"]
(False, 'recall[1] is 0.750, below the minimum 0.800')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prodml.config import AuditRule
from prodml.errors import ConfigError, did_you_mean, listing

#: Metrics that belong to one class and take ``class:`` (the positive class by default).
PER_CLASS = ("precision", "recall", "f1", "support")


def audit(rules: Sequence[AuditRule], report: Mapping[str, Any]) -> dict[str, Any]:
    """Check every rule against ``report``; passed when all pass (and when there are none)."""
    results = [_check(rule, report) for rule in rules]
    return {"passed": all(r["passed"] for r in results), "rules": results}


def _check(rule: AuditRule, report: Mapping[str, Any]) -> dict[str, Any]:
    if rule.golden:
        return _golden(report)
    metric = _metric_name(rule, report)
    if rule.across:
        return _across(rule, metric, report)
    if rule.beat:
        return _beat(rule, metric, report)
    return _bounds(rule, metric, report)


def _bounds(rule: AuditRule, metric: str, report: Mapping[str, Any]) -> dict[str, Any]:
    where = f"{metric} on {rule.slice}" if rule.slice else metric
    values = _slice(rule.slice, report)["metrics"] if rule.slice else report["metrics"]
    value = _value(values, metric)
    parts = []
    if rule.min is not None:
        parts.append(f">= {rule.min:g}")
    if rule.max is not None:
        parts.append(f"<= {rule.max:g}")
    text = f"{where} {' and '.join(parts)}"
    if value is None:
        return _result(text, None, False, f"{where} has no value (no rows to measure it on)")
    if rule.min is not None and value < rule.min:
        return _result(
            text, value, False, f"{where} is {value:.3f}, below the minimum {rule.min:.3f}"
        )
    if rule.max is not None and value > rule.max:
        return _result(
            text, value, False, f"{where} is {value:.3f}, above the maximum {rule.max:.3f}"
        )
    return _result(text, value, True, f"{where} is {value:.3f}, within {' and '.join(parts)}")


def _across(rule: AuditRule, metric: str, report: Mapping[str, Any]) -> dict[str, Any]:
    groups = {
        s["name"]: s["metrics"].get(metric) for s in report["slices"] if s["family"] == rule.across
    }
    measured = {name: v for name, v in groups.items() if v is not None}
    if len(measured) < 2:
        raise ConfigError(
            f"evaluate.audit: across: {rule.across} needs a metadata column with at least two "
            f"groups measured on {metric}; found {listing(measured) or 'none'}"
        )
    worst, best = min(measured, key=measured.__getitem__), max(measured, key=measured.__getitem__)
    low, high = measured[worst], measured[best]
    spread = f"{metric} ranges from {low:.3f} ({worst}) to {high:.3f} ({best})"
    note = _few(rule.across, report)
    if rule.max_gap is not None:
        gap = high - low
        ok = gap <= rule.max_gap
        verb = "within" if ok else "over"
        return _result(
            f"gap in {metric} across {rule.across} <= {rule.max_gap:g}",
            gap,
            ok,
            f"{spread}: a gap of {gap:.3f}, {verb} the maximum {rule.max_gap:.3f}{note}",
        )
    assert rule.min_ratio is not None  # the settings allow only max_gap or min_ratio
    ratio = low / high if high else 1.0
    ok = ratio >= rule.min_ratio
    return _result(
        f"ratio of {metric} across {rule.across} >= {rule.min_ratio:g}",
        ratio,
        ok,
        f"{spread}: a ratio of {ratio:.3f}, {'at least' if ok else 'below'} "
        f"{rule.min_ratio:.3f}{note}",
    )


def _few(family: str | None, report: Mapping[str, Any]) -> str:
    """A note naming the groups of ``family`` with fewer rows than evaluate.min_count."""
    least = report.get("min_count", 0)
    few = [
        f"{s['name']} has {s['count']:,}"
        for s in report["slices"]
        if s["family"] == family and s["count"] < least
    ]
    if not few:
        return ""
    return f"; too few rows to judge (evaluate.min_count is {least}): {', '.join(few)}"


def _beat(rule: AuditRule, metric: str, report: Mapping[str, Any]) -> dict[str, Any]:
    by_name = {b["name"]: b for b in report["baselines"]}
    if rule.beat not in by_name:
        names = [n for n, b in by_name.items() if b["kind"] != "model"]
        raise ConfigError(
            f"evaluate.audit: beat '{rule.beat}' is not a baseline of this evaluation; choose "
            f"one of: {listing(names)}{did_you_mean(str(rule.beat), names)}"
        )
    ours = _value(report["metrics"], metric)
    theirs = _value(by_name[rule.beat]["metrics"], metric)
    text = f"{metric} beats {rule.beat} by {rule.by:g}"
    if ours is None or theirs is None:
        return _result(text, None, False, f"{metric} could not be measured for both")
    lower_is_better = metric in ("mae", "rmse", "mape")
    margin = theirs - ours if lower_is_better else ours - theirs
    ok = margin >= rule.by
    return _result(
        text,
        margin,
        ok,
        f"{metric} is {ours:.3f} against {theirs:.3f} for {rule.beat}: a margin of "
        f"{margin:.3f}, {'at least' if ok else 'short of'} {rule.by:.3f}",
    )


def _golden(report: Mapping[str, Any]) -> dict[str, Any]:
    golden = report.get("golden")
    if golden is None:
        raise ConfigError(
            "evaluate.audit has a golden rule but evaluate.golden names no file; add "
            "golden: golden.csv (a column of ids that must be predicted right)"
        )
    failures = len(golden["failures"])
    ok = failures == 0
    reason = (
        f"all {golden['count']} golden examples are right"
        if ok
        else f"{failures} of {golden['count']} golden examples are wrong"
    )
    return _result("golden examples all right", float(failures), ok, reason)


def _metric_name(rule: AuditRule, report: Mapping[str, Any]) -> str:
    metric = str(rule.metric)
    if metric in PER_CLASS:
        label = rule.class_ if rule.class_ is not None else report.get("positive_class")
        if label is None:
            raise ConfigError(
                f"evaluate.audit: metric {metric} needs class: (which class's {metric}?), "
                "or set data.positive_class"
            )
        return f"{metric}[{label}]"
    return metric


def _slice(name: str, report: Mapping[str, Any]) -> Mapping[str, Any]:
    by_name: dict[str, Mapping[str, Any]] = {s["name"]: s for s in report["slices"]}
    if name not in by_name:
        raise ConfigError(
            f"evaluate.audit: slice '{name}' is not among the evaluated slices; they are: "
            f"{listing(list(by_name)[:20])}{did_you_mean(name, list(by_name))}"
        )
    return by_name[name]


def _value(values: Mapping[str, Any], metric: str) -> float | None:
    if metric not in values:
        raise ConfigError(
            f"evaluate.audit: metric '{metric}' is not measured; measured are: "
            f"{listing(values)}{did_you_mean(metric, list(values))}"
        )
    value = values[metric]
    return None if value is None else float(value)


def _result(rule: str, value: float | None, passed: bool, reason: str) -> dict[str, Any]:
    return {"rule": rule, "value": value, "passed": passed, "reason": reason}
