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
>>> stream = ErrorStream([ADWIN])
>>> def labelled(first, answers):
...     at = datetime(2026, 1, 1, tzinfo=UTC)
...     rows = enumerate(answers, first)
...     return [Labelled(i, at, "m", 1, {"label": 1}, truth, i) for i, truth in rows]
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

from array import array
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, mean_absolute_error, recall_score

from prodml.config import Task
from prodml.monitor.detectors import Detector
from prodml.store.monitoring import ChangePoint, Labelled, Logged

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

    def extends(self, rows: Sequence[Labelled]) -> bool:
        """Whether ``rows`` (labels received since the last read) come after all that was
        read, so that the detectors can carry on with them."""
        return all(row.id > self.through for row in rows)

    def restart(self) -> None:
        """Forget what was read: the next rows are read from the start of the stream."""
        for detector in self._detectors:
            detector.reset()
        self.mark = 0
        self._ids, self._times = array("q"), array("q")

    def feed(
        self, endpoint: str, rows: Sequence[Labelled], *, detect: bool = True
    ) -> list[ChangePoint]:
        """Read ``rows`` (after all that was read, in the order of the log); the change
        points the detectors found in them, by detector. ``detect=False`` (regression:
        no right or wrong) only moves the mark."""
        if rows:
            self.mark = max(self.mark, max(row.feedback_id for row in rows))
        if not detect or not self._detectors:
            return []
        found: list[list[ChangePoint]] = [[] for _ in self._detectors]
        for row in rows:
            self._ids.append(row.id)
            self._times.append((row.created_at - EPOCH) // MICROSECOND)
            error = float(label_text(predicted_label(row)) != label_text(row.truth))
            for detector, points in zip(self._detectors, found, strict=True):
                detection = detector.update(error)
                if detection is not None:
                    points.append(
                        self._point(
                            endpoint, detector.name, detection.started_at, detection.detected_at
                        )
                    )
        return [point for points in found for point in points]

    def _point(self, endpoint: str, detector: str, started: int, detected: int) -> ChangePoint:
        def at(index: int) -> datetime:
            return EPOCH + self._times[index] * MICROSECOND

        return ChangePoint(
            endpoint, detector, self._ids[started], self._ids[detected], at(started), at(detected)
        )


def performance(labelled: Sequence[Labelled], rows: int, task: Task) -> dict[str, Any]:
    """Realized performance of a window of ``rows`` predictions, of which ``labelled`` have
    feedback: accuracy, recall and F1 per class, or MAE for regression."""
    found: dict[str, Any] = {"labelled": len(labelled), "labelled_share": len(labelled) / rows}
    if not labelled:
        return found
    if task == "regression":
        truth = [float(row.truth) for row in labelled]
        values = [float(predicted_label(row)) for row in labelled]
        return found | {"mae": float(mean_absolute_error(truth, values))}
    truth_text = [label_text(row.truth) for row in labelled]
    said = [label_text(predicted_label(row)) for row in labelled]
    classes = sorted(set(truth_text) | set(said))
    recall = recall_score(truth_text, said, labels=classes, average=None, zero_division=0)
    f1 = f1_score(truth_text, said, labels=classes, average=None, zero_division=0)
    found["accuracy"] = float(np.mean([a == b for a, b in zip(truth_text, said, strict=True)]))
    found.update({f"recall.{c}": float(v) for c, v in zip(classes, recall, strict=True)})
    found.update({f"f1.{c}": float(v) for c, v in zip(classes, f1, strict=True)})
    return found


def predicted_label(row: Logged | Labelled) -> Any:
    """The class (or value) a logged prediction answered."""
    return row.outputs.get("label", row.outputs.get("value"))


def label_text(value: Any) -> str:
    """A label as text: feedback may give 1 for a logged "1", or 1.0 for 1."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)
