"""Feedback: the error stream the change detectors read, and realized performance.

The error stream of an endpoint is its labelled predictions in the order of the log, 1.0
for a wrong answer and 0.0 for a right one. An :class:`ErrorStream` keeps, between
passes, how far its detectors have read it, so that a pass feeds them only the labels
received since the last one. When those labels all belong to predictions after the last
one read (labels arriving in the order of the log, the usual case) the detectors carry
on with them; when one belongs to an earlier prediction (a late label, or a second label
for a prediction already read) the stream is read again from the start. Either way the
detectors see the stream they would see if it were read in one go.

>>> from datetime import UTC, datetime, timedelta
>>> from prodml.monitor.detectors import ADWIN
>>> from prodml.store.monitoring import Labelled
>>> stream = ErrorStream([ADWIN])
>>> def labelled(first, answers):
...     at = datetime(2026, 1, 1, tzinfo=UTC)
...     rows = enumerate(answers, first)
...     return LabelColumns.of([Labelled(i, at, "m", 1, {"label": 1}, t, i) for i, t in rows])
>>> read_in_two = stream.feed("e", labelled(1, [1] * 300))
>>> read_in_two += stream.feed("e", labelled(301, [0, 1] * 150))
>>> read_in_two == ErrorStream([ADWIN]).feed("e", labelled(1, [1] * 300 + [0, 1] * 150))
True
>>> [(p.started_id, p.detected_id) for p in read_in_two]
[(297, 352)]
>>> stream.mark, stream.extends(labelled(10, [1]))
(600, False)
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from prodml.config import Task
from prodml.evaluate.metrics import auc
from prodml.monitor.detectors import Detector
from prodml.store.label_columns import LabelColumns, label_text
from prodml.store.monitoring import ChangePoint, SavedStream

EPOCH, MICROSECOND = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)


class ErrorStream:
    """One endpoint's error stream, as far as its detectors have read it."""

    def __init__(self, detectors: Sequence[Callable[[], Detector]]) -> None:
        self._detectors = [make() for make in detectors]
        self.mark = 0  # the newest feedback row read
        self._ids = array("q")  # the prediction id of each value read
        self._times = array("q")  # and its time, in microseconds since EPOCH

    @property
    def through(self) -> int:
        """The last prediction id read (0: none)."""
        return self._ids[-1] if self._ids else 0

    def extends(self, rows: LabelColumns) -> bool:
        """Whether ``rows`` (labels received since the last read) come after all that was
        read, so that the detectors can carry on with them."""
        return not len(rows) or int(rows.id.min()) > self.through

    def saved(self) -> SavedStream:
        """What the stream has read, for :meth:`resume` in another process."""
        return SavedStream(
            self.mark,
            [d.state() for d in self._detectors],
            _packed(self._ids),
            _packed(self._times),
        )

    def resume(self, saved: SavedStream) -> bool:
        """Carry on from ``saved`` (of :meth:`saved`): True, unless it was saved by other
        detectors or settings; then the stream is left fresh, to be read from the start."""
        if len(saved.detectors) == len(self._detectors) and all(
            detector.restore(state)
            for detector, state in zip(self._detectors, saved.detectors, strict=True)
        ):
            self.mark, self._ids, self._times = (
                saved.mark,
                _unpacked(saved.ids),
                _unpacked(saved.times),
            )
            return True
        self.restart()
        return False

    def restart(self) -> None:
        """Forget what was read: the next rows are read from the start of the stream."""
        for detector in self._detectors:
            detector.reset()
        self.mark = 0
        self._ids, self._times = array("q"), array("q")

    def feed(self, endpoint: str, rows: LabelColumns, *, detect: bool = True) -> list[ChangePoint]:
        """Read ``rows`` (after all that was read, in the order of the log); the change
        points the detectors found in them, by detector. ``detect=False`` (regression:
        no right or wrong) only moves the mark."""
        if len(rows):
            self.mark = max(self.mark, int(rows.feedback_id.max()))
        if not detect or not self._detectors:
            return []
        self._ids.frombytes(rows.id.astype(np.int64).tobytes())
        self._times.frombytes(rows.at_us.astype(np.int64).tobytes())
        errors = (rows.said_text != rows.truth_text).astype(float)
        return [
            self._point(endpoint, detector.name, detection.started_at, detection.detected_at)
            for detector in self._detectors
            for detection in detector.read(errors)
        ]

    def _point(self, endpoint: str, detector: str, started: int, detected: int) -> ChangePoint:
        def at(index: int) -> datetime:
            return EPOCH + self._times[index] * MICROSECOND

        return ChangePoint(
            endpoint, detector, self._ids[started], self._ids[detected], at(started), at(detected)
        )


def _packed(values: array[int]) -> bytes:
    """Increasing int64s, delta-coded and compressed: a few bytes each."""
    deltas = np.diff(np.frombuffer(values, dtype=np.int64), prepend=0)
    return zlib.compress(deltas.tobytes(), 1)


def _unpacked(packed: bytes) -> array[int]:
    deltas = np.frombuffer(zlib.decompress(packed), dtype=np.int64)
    return array("q", np.cumsum(deltas).tobytes())


def performance(
    labelled: LabelColumns, rows: int, task: Task, positive_class: Any = None
) -> dict[str, Any]:
    """Realized performance of a window of ``rows`` predictions, of which ``labelled`` have
    feedback: accuracy, recall and F1 per class, or MAE for regression; with deferral,
    ``automatic_accuracy`` (of the rows the model decided) and ``human_agreement`` (the
    share of rows people decided whose label is the one the model suggested); with the
    logged probabilities, ``roc_auc`` and ``pr_auc``: of ``positive_class``
    (``data.positive_class``) when the model has that class, else of the second class of
    two (the model's order, as scikit-learn takes a binary target's positive class), and
    one-vs-rest macro of more.

    Recall and F1 come from the counts, as scikit-learn's ``average=None,
    zero_division=0`` gives them (a class never seen nor predicted has neither), without
    its checks, which cost more than the sums on a window of a few hundred labels:
    recall = TP / (TP + FN), F1 = 2 TP / (2 TP + FP + FN).

    >>> from prodml.store.monitoring import Labelled
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> rows = LabelColumns.of([Labelled(i, at, "m", 1, {"label": said}, truth, i)
    ...     for i, (said, truth) in enumerate([("a", "a"), ("a", "b"), ("b", "b"), ("c", "b")])])
    >>> performance(rows, 8, "classification")  # doctest: +NORMALIZE_WHITESPACE
    {'labelled': 4, 'labelled_share': 0.5, 'accuracy': 0.5, 'automatic_accuracy': 0.5,
     'recall.a': 1.0, 'recall.b': 0.3333333333333333, 'recall.c': 0.0,
     'f1.a': 0.6666666666666666, 'f1.b': 0.5, 'f1.c': 0.0}
    """
    found: dict[str, Any] = {"labelled": len(labelled), "labelled_share": len(labelled) / rows}
    if not len(labelled):
        return found
    if task == "regression":
        truth = np.array([float(value) for value in labelled.truth.tolist()])
        values = np.array([float(value) for value in labelled.said.tolist()])
        return found | {"mae": float(np.mean(np.abs(truth - values)))}
    classes, codes = _sorted_codes(np.concatenate((labelled.truth_text, labelled.said_text)))
    truth, said = codes[: len(labelled)], codes[len(labelled) :]
    right = truth == said
    hits = np.bincount(truth[right], minlength=len(classes))
    actual = np.bincount(truth, minlength=len(classes))
    guessed = np.bincount(said, minlength=len(classes))
    recall = np.divide(hits, actual, out=np.zeros(len(classes)), where=actual > 0)
    both = actual + guessed
    f1 = np.divide(2 * hits, both, out=np.zeros(len(classes)), where=both > 0)
    found["accuracy"] = float(right.mean())
    # the model's own decisions (an audit sample's answers among them), and how often the
    # people deciding the deferred ones gave the label the model suggested
    decided = labelled.decided_by
    for key, who in (("automatic_accuracy", "model"), ("human_agreement", "person")):
        if (decided == who).any():
            found[key] = float(right[decided == who].mean())
    found.update({f"recall.{c}": float(v) for c, v in zip(classes, recall, strict=True)})
    found.update({f"f1.{c}": float(v) for c, v in zip(classes, f1, strict=True)})
    return found | _areas(labelled, positive_class)


def _sorted_codes(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(texts.astype(str), return_inverse=True)``: the distinct texts, sorted,
    and each one's place among them; by hashing, then sorting the few distinct ones (a
    sort of every text cost three times as much).

    >>> _sorted_codes(np.array(["b", "a", "b"], dtype=object))
    (array(['a', 'b'], dtype='<U1'), array([1, 0, 1]))
    """
    codes, distinct = pd.factorize(texts)
    names = np.asarray(distinct, dtype=str)
    order = np.argsort(names, kind="stable")
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size)
    return names[order], rank[codes]


def _areas(labelled: LabelColumns, positive_class: Any) -> dict[str, float]:
    """ROC-AUC and PR-AUC (:func:`~prodml.evaluate.metrics.auc`) of the rows that logged
    the probability of each class, the classes in the order the model logged them; of
    ``positive_class`` if it is one of them (compared as text, as labels are)."""
    logged = ~np.isnan(labelled.probabilities).all(axis=1)
    if not labelled.classes or not logged.any():
        return {}
    classes = list(labelled.classes)
    positive = None if positive_class is None else label_text(positive_class)
    return auc(
        labelled.truth_text[logged],
        labelled.probabilities[logged],
        classes,
        positive if positive in classes else None,
    )
