"""The prediction log's row format: what a logged prediction costs on disk.

A logged prediction is a row of ``predictions`` that names its *stream*, a row of
``log_streams`` shared by every prediction of one endpoint, model version, role, input
columns (the model's, then the ``data.metadata`` fields a request carried beside them, if
any), classes and decider (who decided the answer: null for the model, else ``person``
or ``fallback``; see :mod:`prodml.serve.deferral`). What repeats (names, versions,
column names, classes) is stored once per stream; each prediction keeps only its values:

- ``inputs``: the values in the stream's column order. All floats (the usual case of a
  numeric model): ``b"d"`` and 8 bytes a value. Anything else: ``b"j"`` and the values as
  a JSON list (no keys).
- ``outputs``: probabilities in the stream's class order, ``b"p"`` and 8 bytes each (the
  label is the class of the highest one, as the server answered it; the confidence is that
  probability); a regressor's value, ``b"v"`` and 8 bytes; anything else, ``b"j"`` and the
  outputs as a JSON object.
- the time and the latency as integers (microseconds).

Values round-trip exactly (floats are IEEE doubles both ways).

>>> stream = Stream("loans", "loans", 3, None, "primary", ("income", "region"), (0, 1))
>>> blob = encode_inputs((41000.0, "north"))
>>> blob, decode_inputs(blob, stream.columns)
(b'j[41000.0,"north"]', {'income': 41000.0, 'region': 'north'})
>>> out = encode_outputs({"label": 1, "probabilities": {"0": 0.25, "1": 0.75}}, stream)
>>> len(out), decode_outputs(out, stream)
(17, {'label': 1, 'probabilities': {'0': 0.25, '1': 0.75}})
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np
import orjson

#: Bumped when the row format changes; a reader refuses a tag it does not know.
FORMAT_VERSION = 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_FLOAT = frozenset({float})


@dataclass(frozen=True)
class Stream:
    """What the predictions of one stream share; ``classes`` None: no probabilities."""

    endpoint: str
    model_name: str
    model_version: int
    run_id: str | None
    role: str
    columns: tuple[str, ...]
    classes: tuple[Any, ...] | None = None
    decided_by: str | None = None  # person, fallback; None: the model (as before 0012)

    @cached_property
    def key(self) -> str:
        """The stream's identity as a fixed-size text (the table's unique key); a stream
        the model decides keeps the key it had before streams said who decides."""
        described = [
            self.endpoint,
            self.model_name,
            self.model_version,
            self.run_id,
            self.role,
            self.columns,
            self.classes,
        ]
        if self.decided_by is not None:
            described.append(self.decided_by)
        return hashlib.sha256(orjson.dumps(described)).hexdigest()

    @property
    def decider(self) -> str:
        """Who decided the stream's answers: ``model``, ``person`` or ``fallback``."""
        return self.decided_by or "model"

    @cached_property
    def class_keys(self) -> list[str] | None:
        """The classes as the answers' probability keys (text)."""
        return None if self.classes is None else [str(c) for c in self.classes]


def encode_inputs(values: Sequence[Any]) -> bytes:
    """A prediction's input values, in its stream's column order."""
    if _FLOAT.issuperset(map(type, values)):
        return b"d" + array("d", values).tobytes()
    return b"j" + orjson.dumps(list(values), option=orjson.OPT_SERIALIZE_NUMPY)


def encode_matrix(matrix: np.ndarray) -> list[bytes]:
    """The inputs of each row of a float64 matrix, as :func:`encode_inputs` writes a row
    of floats: the tag and the values copied into one buffer at once, then cut a row a
    piece (a tenth of the time of a call a row).

    >>> encode_matrix(np.array([[0.5, 2.0], [1.0, -3.0]])) == [
    ...     encode_inputs((0.5, 2.0)), encode_inputs((1.0, -3.0))]
    True
    """
    rows, columns = matrix.shape
    width = 1 + 8 * columns
    tagged = np.empty((rows, width), np.uint8)
    tagged[:, 0] = ord("d")
    tagged[:, 1:] = np.ascontiguousarray(matrix, np.float64).view(np.uint8)
    blob = tagged.tobytes()
    return [blob[start : start + width] for start in range(0, len(blob), width)]


def decode_inputs(blob: bytes, columns: Sequence[str]) -> dict[str, Any]:
    """The inputs of :func:`encode_inputs`, by column name."""
    values: list[Any]
    tag, body = blob[:1], blob[1:]
    if tag == b"d":
        values = array("d", body).tolist()
    elif tag == b"j":
        values = orjson.loads(body)
    else:
        raise ValueError(f"unknown inputs tag {tag!r} in the prediction log")
    return dict(zip(columns, values, strict=True))


def encode_outputs(outputs: dict[str, Any], stream: Stream | None = None) -> bytes:
    """A prediction's answer (as :meth:`Predictions.outputs` gives it); its probabilities
    as numbers alone when ``stream`` has the classes they are of."""
    probabilities = outputs.get("probabilities")
    if (
        stream is not None
        and len(outputs) == 2
        and isinstance(probabilities, dict)
        and list(probabilities) == stream.class_keys
        and all(type(p) is float for p in probabilities.values())
    ):
        encoded = array("d", probabilities.values())
        best = max(range(len(encoded)), key=encoded.__getitem__)
        if stream.classes is not None and outputs.get("label") == stream.classes[best]:
            return b"p" + encoded.tobytes()
    if len(outputs) == 1 and type(outputs.get("value")) is float:
        return encode_value(outputs["value"])
    return b"j" + orjson.dumps(outputs, option=orjson.OPT_SERIALIZE_NUMPY)


def encode_probabilities(probabilities: Sequence[float]) -> bytes:
    """The outputs of a classifier whose label is its most probable class (the first of
    equals), as :func:`encode_outputs` writes them, straight from the probabilities."""
    return b"p" + array("d", probabilities).tobytes()


def encode_value(value: float) -> bytes:
    """The outputs of a regressor, as :func:`encode_outputs` writes them."""
    return b"v" + array("d", [value]).tobytes()


def decode_outputs(blob: bytes, stream: Stream) -> dict[str, Any]:
    """The answer of :func:`encode_outputs`."""
    tag, body = blob[:1], blob[1:]
    if tag == b"p":
        assert stream.classes is not None and stream.class_keys is not None
        probabilities = array("d", body)
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        return {
            "label": stream.classes[best],
            "probabilities": dict(zip(stream.class_keys, probabilities.tolist(), strict=True)),
        }
    if tag == b"v":
        return {"value": array("d", body)[0]}
    if tag == b"j":
        decoded: dict[str, Any] = orjson.loads(body)
        return decoded
    raise ValueError(f"unknown outputs tag {tag!r} in the prediction log")


def confidence(outputs: dict[str, Any]) -> float | None:
    """The highest probability of an answer; None without probabilities."""
    probabilities = outputs.get("probabilities")
    if not isinstance(probabilities, dict) or not probabilities:
        return None
    return float(max(probabilities.values()))


def microseconds(moment: datetime) -> int:
    """A time as integer microseconds since 1970 (UTC)."""
    return (moment - EPOCH) // _MICROSECOND


def moment(micros: int) -> datetime:
    """The time of :func:`microseconds`, in UTC."""
    return EPOCH + micros * _MICROSECOND
