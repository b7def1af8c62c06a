"""A served model ready to answer: its row checks, its input builder and one call a batch;
the metadata its requests may carry beside the inputs (:mod:`prodml.serve.metadata`) is
read for the log only, never given to the model.

A classifier with ``predict_proba`` is called once a batch for the probabilities; its
label is the class of the highest one (what ``predict`` returns for scikit-learn's
classifiers, without a second pass). A classifier without probabilities is called with
``predict``, and so is a regressor, whose answer is a value.

The model gets a DataFrame in the training column order and dtypes
(:class:`~prodml.serve.frame.FrameBuilder`), with one exception measured to matter: when
every column is a float64 number and the model gives the same answers on a plain array
(checked once, at load, on rows at the training quantiles), it gets the array.
scikit-learn's checks of a DataFrame cost about 1 ms a call, of an array 0.3 ms, and
the rows were already checked against the schema, names and order included. Calls run
with scikit-learn's finiteness check off for the same reason: a value that could be
infinite or missing where the model cannot take it was refused before. A scaled logistic
regression given arrays skips scikit-learn altogether: its probabilities are computed as
scikit-learn computes them (:mod:`~prodml.serve.direct`), when that gives the same bits
on the probe rows.

>>> import prodml, tempfile
>>> from prodml.serve.source import RunSource
>>> project = prodml.Project(prodml.init(tempfile.mkdtemp() + "/bc", example="breast-cancer"))
>>> predictor = Predictor(RunSource(project, project.fit().id).load("breast-cancer"))
>>> rows = [predictor.checker.record({name: 0.1 for name in predictor.checker.names}, 0)]
>>> predicted = predictor.predict(rows)
>>> predictor.classes, predicted.labels, len(predicted.outputs(0)["probabilities"])
(['benign', 'malignant'], ['benign'], 2)
>>> predictor.takes_arrays, predictor.direct
(True, True)
>>> project.close()
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn

from prodml.data.schema import Schema
from prodml.serve.direct import Step, probabilities
from prodml.serve.frame import FrameBuilder, matrix
from prodml.serve.metadata import MetadataFields
from prodml.serve.source import Served
from prodml.serve.validation import Row, RowChecker

_NO_NAMES = "X does not have valid feature names"  # scikit-learn's warning for arrays


@dataclass(frozen=True)
class Predictions:
    """A batch's answers, one a row: labels (and probabilities) or values."""

    labels: list[Any] | None
    probabilities: list[list[float]] | None  # a row: one probability a class, in class order
    values: list[float] | None
    classes: list[str] | None  # the probabilities' keys

    def outputs(self, row: int) -> dict[str, Any]:
        """Row ``row``'s answer as JSON-plain data: label and probabilities, or value."""
        if self.values is not None:
            return {"value": self.values[row]}
        assert self.labels is not None
        if self.probabilities is None or self.classes is None:
            return {"label": self.labels[row]}
        return {
            "label": self.labels[row],
            "probabilities": dict(zip(self.classes, self.probabilities[row], strict=True)),
        }


class Predictor:
    """A :class:`Served` model with the checks and the input its requests need."""

    def __init__(
        self, served: Served, on_out_of_range: Callable[[str], None] | None = None
    ) -> None:
        self.served = served
        #: what it answers as: primary, or a candidate's mode (see prodml.serve.routing)
        self.role = "primary"
        self.checker = RowChecker(served.schema, on_out_of_range, served.unseen)
        #: the metadata fields its requests may carry beside the inputs, to be logged
        self.metadata = MetadataFields(served.metadata, self.checker.names, served.time)
        self.frame = FrameBuilder(served.schema)
        model = served.model
        classes = getattr(model, "classes_", None)
        self._classes: np.ndarray | None = None if classes is None else np.asarray(classes)
        self.probabilistic = classes is not None and hasattr(model, "predict_proba")
        #: the class labels as JSON-plain values, or None for a regressor
        self.classes: list[Any] | None = None if classes is None else np.asarray(classes).tolist()
        self._keys = None if self.classes is None else [str(c) for c in self.classes]
        probe = probe_rows(served.schema)
        self._direct: Step | None = None  # scikit-learn's checks while it is being chosen
        #: does the model get a plain array instead of a DataFrame? (see the module docstring)
        self.takes_arrays = self.frame.numbers_only and self._same_on_arrays(probe)
        self._direct = self._same_directly(probe)
        #: are its probabilities computed without scikit-learn's checks? (module docstring)
        self.direct = self._direct is not None
        #: seconds a call on a few rows takes (the fastest of three), None if it failed
        self.call_seconds = self._time(probe)

    def nothing(self) -> Predictions:
        """The predictions of no rows, without calling the model."""
        if self.classes is None:
            return Predictions(None, None, [], None)
        return Predictions([], [] if self.probabilistic else None, None, self._keys)

    def predict(self, rows: Sequence[Row]) -> Predictions:
        """One model call for all ``rows`` (checked tuples in schema order)."""
        inputs = matrix(rows) if self.takes_arrays else self.frame(rows)
        raw = self._call(inputs)
        if self._classes is None:
            return Predictions(None, None, np.asarray(raw, dtype=np.float64).tolist(), None)
        if self.probabilistic:
            probabilities = np.asarray(raw, dtype=np.float64)
            labels = self._classes[probabilities.argmax(axis=1)].tolist()
            return Predictions(labels, probabilities.tolist(), None, self._keys)
        return Predictions(np.asarray(raw).tolist(), None, None, self._keys)

    def _call(self, inputs: Any) -> Any:
        if self._direct is not None:
            return self._direct(inputs)
        model = self.served.model
        with _checked_before():
            if self.probabilistic:
                return model.predict_proba(inputs)
            return model.predict(inputs)

    def _same_directly(self, rows: list[Row]) -> Step | None:
        """:func:`~prodml.serve.direct.probabilities` of the model, if it gives the bits
        ``predict_proba`` gives, on the rows together and the first alone."""
        direct = probabilities(self.served.model) if self.takes_arrays else None
        if direct is None or not self.probabilistic:
            return None
        for array in (np.array(rows, dtype=np.float64), np.array(rows[:1], dtype=np.float64)):
            expected = np.asarray(self._call(array.copy()))
            if not np.array_equal(direct(array.copy()), expected):
                return None
        return direct

    def _time(self, rows: list[Row]) -> float | None:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            try:
                self.predict(rows)
            except Exception:  # the first request will say why, as a 500 with its cause logged
                return None
            times.append(time.perf_counter() - start)
        return min(times)

    def _same_on_arrays(self, rows: list[Row]) -> bool:
        """Does the model answer an array as it answers a DataFrame of the same rows?"""
        try:
            on_frame = np.asarray(self._call(self.frame(rows)))
            on_array = np.asarray(self._call(np.array(rows, dtype=np.float64)))
        except Exception:  # a model that needs column names: it gets DataFrames
            return False
        if on_frame.shape != on_array.shape:
            return False
        if on_frame.dtype.kind in "fc":
            return bool(np.allclose(on_frame, on_array, rtol=1e-12, atol=0, equal_nan=True))
        return bool(np.array_equal(on_frame, on_array))


@contextlib.contextmanager
def _checked_before() -> Iterator[None]:
    """scikit-learn without the checks the rows already passed: finiteness, and the
    feature names an array does not carry (its columns are in the training order)."""
    with sklearn.config_context(assume_finite=True), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NO_NAMES, category=UserWarning)
        yield


def probe_rows(schema: Schema) -> list[Row]:
    """Three typical rows (checked values in schema order): numbers at each column's 5th,
    50th and 95th training percentile, the most frequent category, the earliest datetime.

    >>> from prodml.data.schema import infer_schema
    >>> import pandas as pd
    >>> train = pd.DataFrame({"age": [20, 30, 90], "city": ["Oslo", "Rome", "Oslo"]})
    >>> probe_rows(infer_schema(train))
    [(21, 'Oslo'), (30, 'Oslo'), (84, 'Oslo')]
    """
    rows = []
    for key, fallback in (("p05", "minimum"), ("p50", "minimum"), ("p95", "maximum")):
        row: list[Any] = []
        for column in schema.columns:
            if column.kind in ("number", "integer"):
                value = (column.quantiles or {}).get(key, getattr(column, fallback))
                number = 0.0 if value is None else float(value)
                row.append(round(number) if column.kind == "integer" else number)
            elif column.kind == "boolean":
                row.append(next(iter(column.categories or {"True": 1.0})) == "True")
            elif column.kind == "datetime":
                row.append(column.minimum)
            elif column.categories:
                shares = column.categories
                row.append(max(shares, key=shares.__getitem__))
            else:
                row.append("")
        rows.append(tuple(row))
    return rows
