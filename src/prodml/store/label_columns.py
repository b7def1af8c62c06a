"""Labelled predictions read column by column: what the monitor's error stream and realized
performance take, decoded in bulk.

A :class:`~prodml.store.monitoring.Labelled` row costs a dictionary of the answer and an
object, about 10 microseconds; a first pass over a million labelled predictions spent
longer building them than reading them. Here the answers of a stream that are all
probabilities become one matrix (the class answered: the first largest, as
:func:`~prodml.store.log_format.decode_outputs` takes it), and any other answer is
decoded alone, with the same values.

>>> from prodml.store.log_format import encode_probabilities
>>> stream = Stream("loans", "loans", 3, None, "primary", ("income",), (0, 1))
>>> rows = [(7, 1, 1_000_000, encode_probabilities([0.2, 0.8]), '{"value": 1.0}', 4)]
>>> labelled = LabelColumns.read(rows, {1: stream})
>>> labelled.said.tolist(), labelled.said_text.tolist(), labelled.truth_text.tolist()
([1], ['1'], ['1'])
>>> labelled.classes, labelled.probabilities.tolist()
(('0', '1'), [[0.2, 0.8]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from orjson import loads

from prodml.store.log_columns import _objects, _probabilities, models, streams_of
from prodml.store.log_format import Stream, decode_outputs, microseconds

if TYPE_CHECKING:
    from prodml.store.monitoring import Labelled

#: A labelled prediction as the store reads it: id, stream id, time (microseconds), the
#: answer (encoded), its last label (JSON text, or decoded by the driver), that label's id.
LabelledRow = tuple[int, int, int, bytes, Any, int]
#: Answers' probabilities: which rows, a matrix of them (a row each), the class keys.
Share = tuple[np.ndarray, np.ndarray, list[str]]


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class LabelColumns:
    """Labelled predictions, in the order of the log, column by column (row ``i`` of
    each is one :class:`~prodml.store.monitoring.Labelled`).

    ``said`` is the class answered (or a regressor's value), ``truth`` the last label
    received; ``said_text`` and ``truth_text`` both as :func:`label_text`, so that 1 and
    "1" agree. ``probabilities`` holds, for the answers that logged them, the probability
    of each of ``classes`` (those of the first such answer; 0.0 for a class an answer
    lacks), and nan for the others.
    """

    id: np.ndarray  # int64
    at_us: np.ndarray  # int64: microseconds since 1970, UTC
    feedback_id: np.ndarray  # int64
    model_name: np.ndarray  # object
    model_version: np.ndarray  # int64
    run_id: np.ndarray  # object: str or None
    decided_by: np.ndarray  # object: model, person or fallback
    said: np.ndarray  # object
    said_text: np.ndarray  # object: str
    truth: np.ndarray  # object
    truth_text: np.ndarray  # object: str
    probabilities: np.ndarray  # float64, a row each, a column a class
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.id.size)

    def __getitem__(self, rows: slice | np.ndarray) -> LabelColumns:
        """The rows ``rows`` (a slice, or an array of places), as columns."""
        arrays = {f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name != "classes"}
        return LabelColumns(**arrays, classes=self.classes)

    @classmethod
    def of(cls, rows: Sequence[Labelled]) -> LabelColumns:
        """Rows already decoded, as columns."""
        said = _objects([_said(row.outputs) for row in rows])
        truth = _objects([row.truth for row in rows])
        shares = [
            _shares(r.outputs["probabilities"], k) for k, r in enumerate(rows) if _logged(r.outputs)
        ]
        classes, probabilities = _matrix(len(rows), shares)
        return cls(
            id=np.array([row.id for row in rows], dtype=np.int64),
            at_us=np.array([microseconds(row.created_at) for row in rows], dtype=np.int64),
            feedback_id=np.array([row.feedback_id for row in rows], dtype=np.int64),
            model_name=_objects([row.model_name for row in rows]),
            model_version=np.array([row.model_version for row in rows], dtype=np.int64),
            run_id=_objects([row.run_id for row in rows]),
            decided_by=_objects([row.decided_by for row in rows]),
            said=said,
            said_text=_texts(said),
            truth=truth,
            truth_text=_texts(truth),
            probabilities=probabilities,
            classes=classes,
        )

    @classmethod
    def read(cls, rows: Sequence[LabelledRow], streams: Mapping[int, Stream]) -> LabelColumns:
        """The rows as the store reads them (``streams``: each stream id's stream)."""
        return cls.of_columns([[row[k] for row in rows] for k in range(6)], streams)

    @classmethod
    def of_columns(
        cls, columns: Sequence[list[Any]], streams: Mapping[int, Stream]
    ) -> LabelColumns:
        """:meth:`read`'s rows given column by column (a list each, in a row's order)."""
        ids, stream_ids, at_us, outputs, labels, feedback_ids = columns
        count = len(ids)
        codes, row_of = streams_of(stream_ids)
        said = np.empty(count, dtype=object)
        said_text = np.empty(count, dtype=object)
        shares: list[Share] = []  # rows, matrix, keys
        for k, code in enumerate(codes.tolist()):
            where = np.flatnonzero(row_of == k)
            answered, texts, matrices = _answers([outputs[i] for i in where], streams[code])
            said[where] = answered
            said_text[where] = texts
            shares.extend((where[held], part, keys) for held, part, keys in matrices)
        truth, truth_text = _truths(labels)
        of = [streams[int(code)] for code in codes]

        classes, probabilities = _matrix(count, shares)
        return cls(
            id=np.array(ids, dtype=np.int64),
            at_us=np.array(at_us, dtype=np.int64),
            feedback_id=np.array(feedback_ids, dtype=np.int64),
            **models(of, row_of),
            said=said,
            said_text=said_text,
            truth=truth,
            truth_text=truth_text,
            probabilities=probabilities,
            classes=classes,
        )


class LabelledLog:
    """The labelled predictions among the log's rows as a pass reads them, each row read
    with its last label (see :meth:`~prodml.store.monitoring.Monitoring.log_columns`):
    what :meth:`~prodml.store.monitoring.Monitoring.labelled_columns` reads, without
    reading the log a second time when a pass reads all of it anyway.

    >>> from prodml.store.log_format import encode_inputs, encode_probabilities
    >>> stream = Stream("loans", "loans", 3, None, "primary", ("income",), (0, 1))
    >>> blobs = encode_inputs([1.0]), encode_probabilities([0.2, 0.8])
    >>> labelled = LabelledLog()
    >>> log = [(7, 1, "r1", 9, *blobs, 4, 9, '{"value": 1}', 2),
    ...        (8, 1, "r2", 9, *blobs, 4, 9, None, None)]
    >>> labelled.match([list(column) for column in zip(*log)])
    >>> read = labelled.columns({1: stream})
    >>> read.id.tolist(), read.truth.tolist(), read.feedback_id.tolist()
    ([7], [1], [2])
    """

    def __init__(self) -> None:
        self._parts: list[list[list[Any]]] = []  # LabelColumns.of_columns' columns

    def match(self, columns: Sequence[list[Any]]) -> None:
        """Keep those of the log's rows, given column by column (as the store reads them,
        then each row's last label and that label's id, None for none), that have a
        label."""
        ids, stream_ids, _, at_us, _, outputs, *_, labels, feedback_ids = columns
        kept = [ids, stream_ids, at_us, outputs, labels, feedback_ids]
        if None in feedback_ids:
            places = [k for k, found in enumerate(feedback_ids) if found is not None]
            kept = [[column[k] for k in places] for column in kept]
        self._parts.append(kept)

    def columns(self, streams: Mapping[int, Stream]) -> LabelColumns:
        """The labelled predictions kept, as columns (``streams``: each stream id's
        stream)."""
        joined = [list(chain.from_iterable(part[k] for part in self._parts)) for k in range(6)]
        return LabelColumns.of_columns(joined, streams)


def _shares(probabilities: Mapping[str, float], row: int) -> Share:
    """One answer's probabilities, as :func:`_matrix` takes them."""
    return np.array([row]), np.array([list(probabilities.values())]), list(probabilities)


def label_text(value: Any) -> str:
    """A label as text: feedback may give 1 for a logged "1", or 1.0 for 1.

    >>> label_text(1.0), label_text("1"), label_text(True)
    ('1', '1', 'True')
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _answers(blobs: Sequence[bytes], stream: Stream) -> tuple[np.ndarray, np.ndarray, list[Share]]:
    """Each answer's label (or value), as it is and as text, and its probabilities: (which
    answers, a matrix of them, the class keys), in bulk where every answer is
    probabilities."""
    matrix = _probabilities(blobs, stream)
    if matrix is not None:
        assert stream.classes is not None and stream.class_keys is not None
        every = np.arange(len(blobs))
        best = matrix.argmax(axis=1)
        classes = _objects(stream.classes)
        return classes[best], _texts(classes)[best], [(every, matrix, stream.class_keys)]
    decoded = [decode_outputs(blob, stream) for blob in blobs]
    said = _objects([_said(answer) for answer in decoded])
    shares = [_shares(a["probabilities"], k) for k, a in enumerate(decoded) if _logged(a)]
    return said, _texts(said), shares


def _said(answer: Mapping[str, Any]) -> Any:
    return answer.get("label", answer.get("value"))


def _logged(answer: Mapping[str, Any]) -> bool:
    """Whether an answer logged its probabilities."""
    return bool(answer.get("probabilities"))


def _matrix(count: int, shares: Sequence[Share]) -> tuple[tuple[str, ...], np.ndarray]:
    """The classes of the first answer with probabilities, in the log's order, and every
    answer's probability of each (0.0 for a class it lacks; nan rows: none logged)."""
    if not shares:
        return (), np.full((count, 0), np.nan)
    first = min(shares, key=lambda share: int(share[0].min()))
    classes = tuple(first[2])
    matrix = np.full((count, len(classes)), np.nan)
    for rows, part, keys in shares:
        matrix[rows] = 0.0
        for column, key in enumerate(keys):
            if key in classes:
                matrix[rows, classes.index(key)] = part[:, column]
    return classes, matrix


def label_values(labels: Sequence[Any]) -> list[Any]:
    """The ``value`` of each feedback label as the driver gives them: JSON text on SQLite
    (decoded in one go), already decoded by psycopg."""
    if labels and isinstance(labels[0], str):
        labels = loads(f"[{','.join(labels)}]")
    return [label["value"] for label in labels]


def _truths(labels: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The value of each feedback label (see :func:`label_values`) and its
    :func:`label_text`; on SQLite each distinct label's JSON text decoded once (labels
    repeat: a model's classes, a few values), then given to every row that has it."""
    if not (labels and isinstance(labels[0], str)):
        truth = _objects(label_values(labels))
        return truth, _texts(truth)
    codes, distinct = pd.factorize(np.array(labels, dtype=object))
    values = _objects(label_values(distinct.tolist()))
    return values[codes], _texts(values)[codes]


def _texts(values: np.ndarray) -> np.ndarray:
    """:func:`label_text` of each value: at once when all are text, or all whole numbers
    (as feedback's JSON gives them), else one at a time."""
    kinds = set(map(type, values.tolist()))
    if kinds <= {str}:
        return values.copy()
    if kinds == {int}:
        numbers = np.array(values.tolist())
        if numbers.dtype == np.int64:  # not beyond int64: Python's text of each
            return numbers.astype(str).astype(object)
    return _objects([label_text(value) for value in values.tolist()])
