"""Evaluating a finished run: its model on the run's test split (or on a file), beside the
baselines, on slices, with golden examples and the audit; the result is stored with the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from prodml.automation.threshold import as_dict, curve, thinned
from prodml.config import Settings
from prodml.data.dataset import Dataset
from prodml.data.labels import read_labels
from prodml.data.schema import Schema, validate
from prodml.data.sources import FILE_SUFFIXES
from prodml.data.split import TEST, TRAIN
from prodml.errors import ConfigError, DataError, listing
from prodml.evaluate.annotations import positions, read_annotations, tag_masks
from prodml.evaluate.audit import audit
from prodml.evaluate.baselines import fit_baselines
from prodml.evaluate.evaluation import HLP, Predictions, evaluate
from prodml.store.evaluations import Evaluation, Evaluations, SignOff
from prodml.store.runs import Run, Runs
from prodml.tracking.fit import calibration

#: Run kinds whose model can be evaluated.
EVALUATED_KINDS = ("fit", "search")


@dataclass(frozen=True)
class Subject:
    """What an evaluation needs from its project: the run, its model, data and settings."""

    run: Run
    model: Any
    data: Dataset  # the project's whole data set, as the run saw it
    assignment: np.ndarray  # the run's split, per row of ``data``
    settings: Settings
    root: Path
    previous: tuple[Run, Any] | None  # the newest earlier run of the same model, if any


def evaluate_run(
    subject: Subject,
    evaluations: Evaluations,
    on: Dataset | None = None,
    sign_off: SignOff | None = None,
) -> Evaluation:
    """Evaluate ``subject`` on its test split, or on the data set ``on``, and record it."""
    data, settings = subject.data, subject.settings
    rows = on if on is not None else data.rows(np.flatnonzero(subject.assignment == TEST))
    source = rows.source if on is not None else f"test split of run {subject.run.id}"
    answered = _screened(subject, rows, source)
    train = data.rows(np.flatnonzero(subject.assignment == TRAIN))
    options = settings.evaluate
    y_true = rows.y
    labels = sorted(set(data.labels) | set(rows.labels)) if data.task == "classification" else []
    fitted = fit_baselines(settings.baselines, data.task, train.X, train.y, subject.root)
    baselines = [Predictions(b.name, b.kind, _predict(b.model, rows)) for b in fitted]
    if subject.previous is not None:
        run, model = subject.previous
        answers = _answers(model, rows, labels)
        baselines.append(Predictions(f"previous run {run.id}", "previous", *answers))
    human = _human(rows, settings, subject.root)
    if human is not None:
        baselines.append(human)
    tags = None
    if options.tags:
        ids = _ids(rows, settings, "evaluate.tags")
        tags = tag_masks(
            read_annotations(options.tags, "evaluate.tags", subject.root, settings.data.id),
            rows.frame,
            ids,
        )
    report = evaluate(
        rows.frame,
        y_true,
        Predictions("model", "model", *_answers(subject.model, rows, labels)),
        baselines,
        task=data.task,
        labels=labels,
        positive_class=data.positive_class,
        settings=options,
        metadata=data.metadata,
        tags=tags,
    )
    described = {
        "source": source,
        "rows": len(rows.frame),
        "fingerprint": rows.fingerprint,
    }
    report = {
        "run": subject.run.id,
        "project": subject.run.project,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": described,
        **report,
        "warnings": [*report["warnings"], *answered],
        "golden": _golden(subject, on if on is not None else data),
        "deferral": _deferral(subject.model, rows),
    }
    report["audit"] = audit(options.audit, report)
    report["sign_off"] = (
        None
        if sign_off is None
        else {"by": sign_off.by, "note": sign_off.note, "at": sign_off.at.isoformat()}
    )
    evaluation = evaluations.record(
        subject.run.id,
        subject.run.project,
        data=described,
        result=report,
        passed=report["audit"]["passed"],
        sign_off=sign_off,
    )
    return evaluation


def _screened(subject: Subject, rows: Dataset, source: str) -> list[str]:
    """The evaluated rows judged as the server judges a request: rows it would refuse (a
    422) stop the evaluation, which would otherwise score rows that are never served;
    what it answers all the same (an unseen category under ``serve.unseen: predict``)
    comes back as warnings."""
    if subject.run.input_schema is None:
        return []
    settings = subject.settings
    ids = rows.frame[settings.data.id] if settings.data.id in rows.frame.columns else None
    found = validate(
        rows.X,
        Schema.from_dict(subject.run.input_schema),
        ids=ids,
        missing_jump=1.0,
        unseen=settings.serve.unseen,
    )
    errors = [a for a in found if a.severity == "error"]
    if errors:
        first = errors[0]
        more = f"; and {len(errors) - 1} more such problems" if len(errors) > 1 else ""
        raise DataError(
            f"{source}: {first.message} (rows {listing(map(str, first.rows), limit=5)})"
            f"{more}; the server refuses such rows, so they cannot be evaluated as served "
            "(`prodml data validate FILE` lists every problem)"
        )
    return [a.message for a in found if a.kind == "unseen_category"]


def previous_run(runs: Runs, run: Run) -> Run | None:
    """The newest finished run of the same model factory that started before ``run``."""
    factory = (run.model_spec or {}).get("factory")
    for other in runs.list(run.project):
        if (
            other.started_at < run.started_at
            and other.status == "finished"
            and other.kind in EVALUATED_KINDS
            and (other.model_spec or {}).get("factory") == factory
        ):
            return other
    return None


def _predict(model: Any, rows: Dataset) -> np.ndarray:
    return np.asarray(model.predict(rows.X))


def _answers(model: Any, rows: Dataset, labels: list[Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions, and each row's probability of each of ``labels`` when the model gives
    them (0 for a label the model never learned)."""
    predicted = _predict(model, rows)
    classes = list(getattr(model, "classes_", []))
    if not (labels and classes and hasattr(model, "predict_proba")):
        return predicted, None
    given = np.asarray(model.predict_proba(rows.X), dtype=np.float64)
    probabilities = np.zeros((len(predicted), len(labels)))
    for column, label in enumerate(classes):
        probabilities[:, labels.index(label)] = given[:, column]
    return predicted, probabilities


def _deferral(model: Any, rows: Dataset) -> list[dict[str, float | int]] | None:
    """Coverage against error on these rows, one point a 5% coverage step: what each
    confidence threshold would leave to people (see :mod:`prodml.automation`); None for
    a regressor or a model without probabilities."""
    measured = calibration(model, rows)
    if measured is None:
        return None
    points = curve(measured["confidence"], measured["correct"])
    return [as_dict(p) for p in thinned(points)]


def _human(rows: Dataset, settings: Settings, root: Path) -> Predictions | None:
    """HLP's answers: a column of the data, or a file of id and label (several labels per
    example allowed, e.g. ``labels.file``: each counts, so HLP is the labelers' accuracy)."""
    human = settings.evaluate.human
    if human is None:
        return None
    if human in rows.frame.columns:
        if human in rows.features:
            raise ConfigError(
                f"evaluate.human '{human}' is a feature of the model, so the model would "
                f"learn from the human labels; add it to data.metadata"
            )
        values = rows.frame[human]
        return Predictions(HLP, "hlp", np.array([None if pd.isna(v) else v for v in values]))
    if not human.lower().endswith(FILE_SUFFIXES):
        raise ConfigError(
            f"evaluate.human '{human}' is neither a column of the data nor a CSV or Parquet "
            f"file; name a column or a file of id and label"
        )
    ids = rows.frame[_ids(rows, settings, "evaluate.human")]
    if human == settings.labels.file:
        given = read_labels(human, root, settings.labels)
        examples, labels = given["example"], given["label"]
    else:
        given = read_annotations(human, "evaluate.human", root, settings.data.id)
        if "label" not in given.columns:
            raise DataError(
                f"evaluate.human '{human}' needs a 'label' column beside the id; it has: "
                f"{listing(map(str, given.columns))}"
            )
        examples, labels = given["id"], given["label"]
    at = positions(examples, ids)
    known = (at >= 0) & labels.notna().to_numpy()
    if not known.any():  # e.g. logged requests, whose ids are the server's: no HLP here
        return None
    return Predictions(HLP, "hlp", labels.to_numpy(dtype=object)[known], rows=at[known])


def _golden(subject: Subject, data: Dataset) -> dict[str, Any] | None:
    """The golden examples (looked up by id in ``data``) and the ones the model gets wrong."""
    settings = subject.settings
    file = settings.evaluate.golden
    if file is None:
        return None
    golden = read_annotations(file, "evaluate.golden", subject.root, settings.data.id)
    ids = data.frame[_ids(data, settings, "evaluate.golden")]
    position = positions(golden["id"], ids)
    missing = [str(i) for i, p in zip(golden["id"], position, strict=True) if p < 0]
    if missing:
        raise DataError(
            f"evaluate.golden '{file}' names {len(missing)} ids that are not in the data: "
            f"{listing(missing[:10])}; remove them or fix data.id"
        )
    examples = data.rows(position)
    expected = golden["label"].to_numpy() if "label" in golden.columns else examples.y
    predicted = subject.model.predict(examples.X)
    failures = [
        {"id": str(i), "expected": str(e), "predicted": str(p)}
        for i, e, p in zip(golden["id"], expected, predicted, strict=True)
        if str(e) != str(p)
    ]
    return {"file": file, "count": len(golden), "failures": failures}


def _ids(rows: Dataset, settings: Settings, key: str) -> str:
    if settings.data.id is None:
        raise ConfigError(
            f"{key} finds examples by id, but data.id is not set; name the id column in "
            "prodml.yaml, e.g. data: {id: application_id}"
        )
    return settings.data.id
