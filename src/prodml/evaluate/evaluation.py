"""One evaluation: the metrics, the baselines side by side, the slices ranked by gain.

The result is a JSON-ready mapping (what ``prodml evaluate --json`` prints, what the store
keeps, what the HTML report draws). Its slices form the error-analysis priority table of
the field's course: for each slice the model's value of the focus metric, the reference
(human-level performance or a configured baseline on the same rows; without either, the
model's own value on all rows), the gap between them, the slice's share of the data and
the expected gain if the gap were closed (gap x share). Slices with too few rows to tell
rank after the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prodml.config import EvaluateSettings, Task
from prodml.errors import ConfigError, DataError, did_you_mean, listing
from prodml.evaluate.metrics import confusion, full_metrics
from prodml.evaluate.slices import (
    Slicing,
    classification_scores,
    confusion_by_group,
    regression_scores,
    slicings,
    wilson,
)

#: Below this share of positives, or this close to the majority baseline, accuracy misleads.
RARE_POSITIVE = 0.10
NEAR_MAJORITY = 0.01
HLP = "HLP"
#: The reference of the slices when there is no HLP and none is configured.
OVERALL = "model overall"


@dataclass(frozen=True)
class Predictions:
    """What one predictor (the model, a baseline, the human labelers) said for each row."""

    name: str
    kind: str  # model, majority, stratified, rule, previous, hlp...
    y_pred: np.ndarray  # one per row (None where no answer was given), or one per ``rows``
    scores: np.ndarray | None = None  # each row's probability of each label, in order
    rows: np.ndarray | None = None  # the row of each answer, for several answers per row (HLP)

    def answers(self) -> tuple[np.ndarray, np.ndarray]:
        """The positions of the rows answered and the answers, one pair per answer."""
        if self.rows is not None:
            return self.rows, self.y_pred
        given = np.array([value is not None for value in self.y_pred], dtype=bool)
        return np.flatnonzero(given), self.y_pred[given]


def evaluate(
    frame: pd.DataFrame,
    y_true: np.ndarray,
    model: Predictions,
    baselines: Sequence[Predictions],
    *,
    task: Task,
    labels: Sequence[Any],
    positive_class: Any,
    settings: EvaluateSettings,
    metadata: Sequence[str] = (),
    tags: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on the rows of ``frame`` against ``baselines`` and on slices."""
    classes = [str(label) for label in labels]
    table = [_scored(p, y_true, task, labels, positive_class) for p in (model, *baselines)]
    focus, warnings = _focus(task, table, y_true, positive_class, classes)
    table.sort(key=lambda entry: _rank(entry["metrics"], focus, positive_class), reverse=True)
    reference = _reference(settings.reference, baselines)
    overall = table[[e["kind"] for e in table].index("model")]["metrics"]
    specs = settings.slices if settings.slices is not None else tuple(metadata)
    specs = (*specs, *(r.across for r in settings.audit if r.across and r.across not in specs))
    cuts = slicings(specs, frame, tags)
    rows = [
        row
        for cut in cuts
        for row in _slice_rows(
            cut,
            y_true,
            model,
            reference,
            task=task,
            labels=classes,
            focus=focus,
            min_count=settings.min_count,
            overall=overall.get(focus),
        )
    ]
    # slices with enough rows first, then by expected gain; where gains tie (at 0, say),
    # slices with more of the errors first
    rows.sort(
        key=lambda r: (
            r["sufficient"],
            -1.0 if r["gain"] is None else round(r["gain"], 12),
            r["error_share"],
        )
    )
    return {
        "task": task,
        "labels": classes,
        "positive_class": None if positive_class is None else str(positive_class),
        "focus": focus,
        "warnings": warnings,
        "metrics": overall,
        "confusion": confusion(
            y_true, _as_truth(model.name, model.y_pred, y_true.dtype, task, labels), labels
        )
        if task == "classification"
        else None,
        "baselines": table,
        "slices": rows[::-1],
        "min_count": settings.min_count,
    }


def _scored(
    predictions: Predictions, y_true: np.ndarray, task: Task, labels: Sequence[Any], positive: Any
) -> dict[str, Any]:
    positions, given = predictions.answers()
    y_pred = _as_truth(predictions.name, given, y_true.dtype, task, labels)
    scores = None if predictions.scores is None else predictions.scores[positions]
    return {
        "name": predictions.name,
        "kind": predictions.kind,
        "rows": len(np.unique(positions)),
        "metrics": full_metrics(task, y_true[positions], y_pred, labels, scores, positive),
    }


def _as_truth(
    name: str, given: np.ndarray, dtype: np.dtype[Any], task: Task, labels: Sequence[Any]
) -> np.ndarray:
    """The answers given, as values of the target's type (human labels may come as text)."""
    if task == "regression":
        return given.astype(float)
    by_name = {str(label): label for label in labels}
    unknown = sorted({str(v) for v in given} - set(by_name))
    if unknown:
        raise DataError(
            f"{name} gave labels that are not classes of the target: "
            f"{listing(unknown)}; classes are: {listing(by_name)}"
        )
    return np.array([by_name[str(v)] for v in given], dtype=dtype)


def _focus(
    task: Task,
    table: list[dict[str, Any]],
    y_true: np.ndarray,
    positive: Any,
    classes: list[str],
) -> tuple[str, list[str]]:
    """The metric to rank by: accuracy, unless the data make it misleading."""
    if task == "regression":
        return "mae", []
    kinds = {entry["kind"]: entry["metrics"] for entry in table}
    model, majority = kinds["model"]["accuracy"], kinds["majority"]["accuracy"]
    share = float(np.mean(y_true == positive)) if positive is not None else None
    reasons = []
    if abs(model - majority) <= NEAR_MAJORITY:
        reasons.append(
            f"the model's accuracy {model:.3f} is within a point of always predicting the "
            f"majority class ({majority:.3f})"
        )
    if share is not None and share < RARE_POSITIVE:
        reasons.append(f"the positive class {positive} is only {share:.1%} of the rows")
    if not reasons:
        return "accuracy", []
    focus = f"recall[{positive}]" if positive is not None else "recall_macro"
    ranked = f"recall and F1 of class {positive}" if positive is not None else "macro recall"
    return focus, [f"accuracy is misleading here: {' and '.join(reasons)}; ranking by {ranked}"]


def _rank(values: Mapping[str, float], focus: str, positive: Any) -> tuple[float, float]:
    """Sort key, larger is better: the focus metric, then F1 of the positive class."""
    if focus == "mae":
        return (-values["mae"], -values["rmse"])
    second = values.get(f"f1[{positive}]", values["f1_macro"])
    return (values[focus], second)


def _reference(name: str | None, baselines: Sequence[Predictions]) -> Predictions | None:
    """The predictor the slices are compared with: as configured, else HLP; None without
    either, for the model's own overall value (a baseline such as the majority class
    would put every slice ahead of it, and leave nothing to rank)."""
    by_name = {p.name: p for p in baselines}
    if name is None:
        hlp = [p for p in baselines if p.kind == "hlp"]
        return hlp[0] if hlp else None
    if name not in by_name:
        raise ConfigError(
            f"evaluate.reference '{name}' is not a baseline of this evaluation; choose one "
            f"of: {listing(by_name)}{did_you_mean(name, list(by_name))}"
        )
    return by_name[name]


def _slice_rows(
    cut: Slicing,
    y_true: np.ndarray,
    model: Predictions,
    reference: Predictions | None,
    *,
    task: Task,
    labels: list[str],
    focus: str,
    min_count: int,
    overall: float | None,
) -> list[dict[str, Any]]:
    groups = len(cut.names)
    truth = _codes(y_true, labels, task)
    ours = _group_scores(cut.codes, groups, truth, _codes(model.y_pred, labels, task), task, labels)
    theirs = None
    if reference is not None:
        at, given = reference.answers()
        predicted = _codes(given, labels, task)
        theirs = _group_scores(cut.codes[at], groups, truth[at], predicted, task, labels)
    value, trials, successes = _focus_values(ours, focus)
    interval = wilson(successes, trials) if successes is not None else None
    errors = ours["errors"]
    total_errors = _total_errors(truth, _codes(model.y_pred, labels, task), task)
    rows = []
    for g, name in enumerate(cut.names):
        count = int(ours["count"][g])
        reference_value = overall if theirs is None and count > 0 else None
        if theirs is not None and theirs["count"][g] > 0:
            reference_value = _plain(_focus_values(theirs, focus)[0][g])
        row_value = _plain(value[g])
        gap = _gap(row_value, reference_value, focus)
        share = count / len(y_true)
        rows.append(
            {
                "name": name,
                "family": cut.family,
                "count": count,
                "share": share,
                "metrics": {
                    k: _plain(v[g]) for k, v in ours.items() if k not in ("count", "errors")
                },
                "value": row_value,
                "interval": None
                if interval is None
                else [_plain(interval[0][g]), _plain(interval[1][g])],
                "error_rate": _plain(errors[g] / count) if task == "classification" else None,
                "error_share": _plain(errors[g] / total_errors) if total_errors else 0.0,
                "reference": reference_value,
                "reference_name": OVERALL if reference is None else reference.name,
                "gap": gap,
                "gain": None if gap is None else gap * share,
                "sufficient": bool(trials[g] >= min_count),
            }
        )
    return rows


def _group_scores(
    codes: np.ndarray,
    groups: int,
    truth: np.ndarray,
    predicted: np.ndarray,
    task: Task,
    labels: list[str],
) -> dict[str, np.ndarray]:
    if task == "regression":
        keep = codes >= 0
        scores = regression_scores(codes, groups, truth, predicted)
        absolute = np.abs(truth - predicted)
        scores["errors"] = np.bincount(codes[keep], weights=absolute[keep], minlength=groups)
        return scores
    matrix = confusion_by_group(codes, groups, truth, predicted, len(labels))
    return classification_scores(matrix, labels)


def _focus_values(
    scores: dict[str, np.ndarray], focus: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The focus metric per group, the rows it is measured on and, for a proportion, the
    successes among them (for its Wilson interval)."""
    count = scores["count"]
    if focus == "accuracy":
        return scores["accuracy"], count, count - scores["errors"]
    if focus.startswith("recall["):
        trials = scores["support" + focus.removeprefix("recall")]
        recall = scores[focus]
        # recall is tp / support, so tp comes back exactly from it
        return np.where(trials > 0, recall, np.nan), trials, np.rint(recall * trials)
    return scores[focus], count, None


def _codes(values: np.ndarray, labels: list[str], task: Task) -> np.ndarray:
    """Class indices (-1 for no answer), or the numbers themselves for regression."""
    if task == "regression":
        return np.array([np.nan if v is None else v for v in values], dtype=float)
    text = pd.Series(values, dtype=object).map(lambda v: None if v is None else str(v))
    return np.asarray(pd.Categorical(text, categories=labels).codes, dtype=np.int64)


def _total_errors(truth: np.ndarray, predicted: np.ndarray, task: Task) -> float:
    if task == "regression":
        return float(np.abs(truth - predicted).sum())
    return float((truth != predicted).sum())


def _gap(value: float | None, reference: float | None, focus: str) -> float | None:
    """How far the model is behind the reference (0 when it is ahead)."""
    if value is None or reference is None:
        return None
    behind = value - reference if focus == "mae" else reference - value
    return max(behind, 0.0)


def _plain(value: Any) -> float | None:
    number = float(value)
    return None if np.isnan(number) else number
