"""The prediction log read column by column: what the monitor reads a window of, decoded in
bulk.

Decoding a logged prediction into a :class:`~prodml.store.monitoring.Logged` row costs
about 10 microseconds, most of it building the answer's dictionary one row at a time; a
million-row log took longer to decode than to read. Here the rows of a stream whose
inputs are all floats (``b"d"``) become one matrix, and answers that are all
probabilities (``b"p"``) another, whose largest value per row is the confidence and
whose position is the class answered (the first of equals, as
:func:`~prodml.store.log_format.decode_outputs` takes it). Any other row is decoded
alone, as :mod:`~prodml.store.log_format` does, with the same values.

>>> from prodml.store.log_format import encode_inputs, encode_probabilities
>>> stream = Stream("loans", "loans", 3, None, "primary", ("income",), (0, 1))
>>> rows = [(i, 1, f"r{i}", i, encode_inputs([float(i)]), encode_probabilities([0.2, 0.8]), 10, i)
...         for i in (1, 2)]
>>> columns = LogColumns.read(rows, {1: stream})
>>> columns.id.tolist(), columns.inputs["income"].tolist(), columns.label.tolist()
([1, 2], [1.0, 2.0], [1, 1])
>>> answers([encode_probabilities([0.2, 0.8])], stream)
[{'label': 1, 'probabilities': {'0': 0.2, '1': 0.8}}]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from prodml.store.log_format import (
    Stream,
    confidence,
    decode_inputs,
    decode_outputs,
    microseconds,
    moment,
)

if TYPE_CHECKING:
    from prodml.store.monitoring import Logged

#: The model that answered a prediction: its name, version and run (version 0 is a model
#: served with ``--run``: its run tells one from another).
Model = tuple[str, int, str | None]
#: A row of the log as the store reads it: id, stream id, request id, time (the event's,
#: else the arrival; microseconds), inputs and outputs (encoded), latency and arrival
#: (microseconds).
LogRow = tuple[int, int, str, int, bytes, bytes, int, int]


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class LogColumns:
    """Rows of the prediction log, column by column: row ``i`` is ``id[i]``,
    ``at_us[i]``... (see :class:`~prodml.store.monitoring.Logged` for one row).

    ``inputs`` holds the logged values by field (floats, or whatever JSON gave); ``label``
    the class answered, or a regressor's value, None where the answer had neither;
    ``confidence`` the highest probability, nan where the answer had none; ``valued``
    whether the answer is a regressor's value.
    """

    id: np.ndarray  # int64
    at_us: np.ndarray  # int64: microseconds since 1970, UTC: the event's, else the arrival
    arrived_us: np.ndarray  # int64: when it arrived (the same, without an event time)
    model_name: np.ndarray  # object
    model_version: np.ndarray  # int64
    run_id: np.ndarray  # object: str or None
    decided_by: np.ndarray  # object: model, person or fallback
    latency_seconds: np.ndarray  # float64
    inputs: pd.DataFrame  # a RangeIndex
    label: np.ndarray  # object
    confidence: np.ndarray  # float64
    valued: np.ndarray  # bool

    def __len__(self) -> int:
        return int(self.id.size)

    def __getitem__(self, rows: slice | np.ndarray) -> LogColumns:
        """The rows ``rows`` (a slice, or an array of places), as columns."""
        arrays = {f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name != "inputs"}
        return LogColumns(**arrays, inputs=self.inputs.iloc[rows].reset_index(drop=True))

    def created_at(self, row: int) -> datetime:
        """The time of row ``row``: its event's, else its arrival."""
        return moment(int(self.at_us[row]))

    @classmethod
    def read(cls, rows: Sequence[LogRow], streams: Mapping[int, Stream]) -> LogColumns:
        """The rows as the store reads them (``streams``: each stream id's stream)."""
        # a list per column: three times as fast as zip(*rows)
        return cls.of_columns([[row[k] for row in rows] for k in range(8)], streams)

    @classmethod
    def of_columns(cls, columns: Sequence[list[Any]], streams: Mapping[int, Stream]) -> LogColumns:
        """:meth:`read`'s rows given column by column (a list each, in a row's order; a
        column after the eighth is left out)."""
        ids, stream_ids, _, at_us, inputs, outputs, latency, arrived = columns[:8]
        if not ids:
            return cls.of([])
        codes, row_of = streams_of(stream_ids)
        of = [streams[int(code)] for code in codes]
        label = np.empty(len(ids), dtype=object)
        chosen = np.full(len(ids), np.nan)
        valued = np.zeros(len(ids), dtype=bool)
        for k, stream in enumerate(of):
            where = np.flatnonzero(row_of == k)
            label[where], chosen[where], valued[where] = _answered(
                [outputs[i] for i in where], stream
            )

        return cls(
            id=np.array(ids, dtype=np.int64),
            at_us=np.array(at_us, dtype=np.int64),
            arrived_us=np.array(arrived, dtype=np.int64),
            **models(of, row_of),
            latency_seconds=np.array(latency, dtype=np.int64) / 1e6,
            inputs=_inputs(inputs, [stream.columns for stream in of], row_of),
            label=label,
            confidence=chosen,
            valued=valued,
        )

    @classmethod
    def of(cls, rows: Sequence[Logged]) -> LogColumns:
        """Rows already decoded, as columns."""
        return cls(
            id=np.array([r.id for r in rows], dtype=np.int64),
            at_us=np.array([microseconds(r.created_at) for r in rows], dtype=np.int64),
            arrived_us=np.array(
                [microseconds(r.arrived_at or r.created_at) for r in rows], dtype=np.int64
            ),
            model_name=np.array([r.model_name for r in rows], dtype=object),
            model_version=np.array([r.model_version for r in rows], dtype=np.int64),
            run_id=np.array([r.run_id for r in rows], dtype=object),
            decided_by=np.array([r.decided_by for r in rows], dtype=object),
            latency_seconds=np.array([r.latency_seconds for r in rows], dtype=np.float64),
            inputs=pd.DataFrame.from_records([r.inputs for r in rows], index=range(len(rows))),
            label=_objects([_label(r.outputs) for r in rows]),
            confidence=np.array([_number(r.confidence) for r in rows], dtype=np.float64),
            valued=np.array(["value" in r.outputs for r in rows], dtype=bool),
        )

    @classmethod
    def joined(cls, parts: Sequence[LogColumns]) -> LogColumns:
        """The rows of ``parts``, one after the other."""
        if len(parts) == 1:
            return parts[0]
        arrays = {
            f.name: np.concatenate([getattr(p, f.name) for p in parts])
            for f in fields(cls)
            if f.name != "inputs"
        }
        inputs = pd.concat([p.inputs for p in parts], ignore_index=True)
        return cls(**arrays, inputs=inputs)


class Served(Protocol):
    """Rows with the model that answered each, column by column (:class:`LogColumns`, or
    :class:`~prodml.store.label_columns.LabelColumns`)."""

    @property
    def model_name(self) -> np.ndarray: ...
    @property
    def model_version(self) -> np.ndarray: ...
    @property
    def run_id(self) -> np.ndarray: ...
    def __len__(self) -> int: ...


def by_model(rows: Served) -> list[tuple[Model, np.ndarray]]:
    """The models that answered ``rows``, each with the places of its rows, in order
    (a model's key is made once a run of its rows, not once a row).

    >>> from prodml.store.log_format import encode_inputs, encode_probabilities
    >>> def stream(version):
    ...     return Stream("e", "m", version, None, "primary", ("x",), (0, 1))
    >>> rows = [(i, v, f"r{i}", i, encode_inputs([1.0]), encode_probabilities([0.5, 0.5]), 1, i)
    ...         for i, v in enumerate([1, 1, 2, 1, 2], 1)]
    >>> read = LogColumns.read(rows, {1: stream(1), 2: stream(2)})
    >>> [(model, at.tolist()) for model, at in by_model(read)]
    [(('m', 1, None), [0, 1, 3]), (('m', 2, None), [2, 4])]
    """
    count = len(rows)
    if not count:
        return []
    names, versions, runs = rows.model_name, rows.model_version, rows.run_id
    switch = (versions[1:] != versions[:-1]) | (runs[1:] != runs[:-1]) | (names[1:] != names[:-1])
    starts = np.concatenate(([0], np.flatnonzero(switch) + 1))
    keys = [(str(names[k]), int(versions[k]), runs[k]) for k in starts.tolist()]
    if len(starts) == 1:  # one model: the usual case
        return [(keys[0], np.arange(count))]
    models = list(dict.fromkeys(keys))
    code = {model: k for k, model in enumerate(models)}
    codes = np.repeat([code[key] for key in keys], np.diff(np.append(starts, count)))
    order = np.argsort(codes, kind="stable")
    ends = np.searchsorted(codes[order], np.arange(len(models) + 1))
    return [(model, order[ends[k] : ends[k + 1]]) for k, model in enumerate(models)]


def answers(blobs: Sequence[bytes], stream: Stream) -> list[dict[str, Any]]:
    """:func:`~prodml.store.log_format.decode_outputs` of each of ``blobs`` (of
    ``stream``), in bulk where they are all probabilities."""
    matrix = _probabilities(blobs, stream)
    if matrix is None:
        return [decode_outputs(blob, stream) for blob in blobs]
    assert stream.classes is not None and stream.class_keys is not None
    classes, keys = stream.classes, stream.class_keys
    return [
        {"label": classes[best], "probabilities": dict(zip(keys, row, strict=True))}
        for best, row in zip(matrix.argmax(axis=1).tolist(), matrix.tolist(), strict=True)
    ]


def _answered(blobs: Sequence[bytes], stream: Stream) -> tuple[np.ndarray, Any, Any]:
    """Each answer's label, confidence (nan: none) and whether it is a value."""
    matrix = _probabilities(blobs, stream)
    if matrix is not None:
        return _objects(stream.classes or ())[matrix.argmax(axis=1)], matrix.max(axis=1), False
    values = _matrix(blobs, b"v", 1)
    if values is not None:
        return _objects(values[:, 0].tolist()), np.nan, True
    decoded = [decode_outputs(blob, stream) for blob in blobs]
    return (
        _objects([_label(answer) for answer in decoded]),
        [_number(confidence(answer)) for answer in decoded],
        ["value" in answer for answer in decoded],
    )


def _probabilities(blobs: Sequence[bytes], stream: Stream) -> np.ndarray | None:
    """The probabilities of the answers, a row each, when every one is stored as
    probabilities (``b"p"``) of the stream's classes and none is nan (where Python's
    ``max`` and numpy's would differ); else None."""
    if stream.classes is None or not blobs:
        return None
    matrix = _matrix(blobs, b"p", len(stream.classes))
    return None if matrix is None or np.isnan(matrix).any() else matrix


def _matrix(blobs: Sequence[bytes], tag: bytes, width: int) -> np.ndarray | None:
    """The float64 values of ``blobs``, a row each, when every one is ``tag`` and ``width``
    values; else None."""
    size = 1 + 8 * width
    if set(map(len, blobs)) != {size}:
        return None
    raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), size)
    if not (raw[:, 0] == tag[0]).all():
        return None
    return raw[:, 1:].copy().view(np.float64)


def _inputs(
    blobs: Sequence[bytes], columns: Sequence[tuple[str, ...]], row_of: np.ndarray
) -> pd.DataFrame:
    """The logged inputs by field (row ``i`` of the stream whose columns are
    ``columns[row_of[i]]``): one matrix when every row holds floats (``b"d"``) of the same
    fields, else each row decoded (a field a row lacks is missing)."""
    names = columns[0]
    matrix = _matrix(blobs, b"d", len(names)) if all(c == names for c in columns) else None
    if matrix is not None:
        return pd.DataFrame(matrix, columns=list(names), copy=False)
    records = [decode_inputs(blob, columns[k]) for blob, k in zip(blobs, row_of, strict=True)]
    return pd.DataFrame.from_records(records)


def streams_of(stream_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct stream ids of rows, sorted, and the place of each row's among them:
    ``np.unique(stream_ids, return_inverse=True)``, without sorting the ids when they are
    all one stream's (the usual chunk of a log).

    >>> [found.tolist() for found in streams_of([4, 2, 4])]
    [[2, 4], [1, 0, 1]]
    """
    ids = np.array(stream_ids, dtype=np.int64)
    if ids.size and (ids == ids[0]).all():
        return ids[:1], np.zeros(ids.size, dtype=np.intp)
    codes, row_of = np.unique(ids, return_inverse=True)
    return codes, row_of


def models(of: Sequence[Stream], row_of: np.ndarray) -> dict[str, np.ndarray]:
    """Each row's model name, version, run and decider, from the streams ``of`` that
    ``row_of`` indexes (one a row): the columns :class:`LogColumns` and the labels share."""

    def per_row(value: Callable[[Stream], Any]) -> np.ndarray:
        column: np.ndarray = _objects([value(stream) for stream in of])[row_of]
        return column

    found: dict[str, np.ndarray] = {
        "model_name": per_row(lambda s: s.model_name),
        "model_version": per_row(lambda s: s.model_version).astype(np.int64),
        "run_id": per_row(lambda s: s.run_id),
        "decided_by": per_row(lambda s: s.decider),
    }
    return found


def _objects(values: Sequence[Any]) -> np.ndarray:
    """An array of the Python objects ``values`` (a list in it stays one element)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _number(value: float | None) -> float:
    return np.nan if value is None else value


def _label(answer: Mapping[str, Any]) -> Any:
    return answer.get("label", answer.get("value"))
