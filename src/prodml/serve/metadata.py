"""Metadata a request carries beside a model's inputs, logged with its rows.

prodml.yaml's ``data.metadata`` columns (the loans example's gender and region) are never
features, so the model never takes them; but a deployment comparison is cut by them
(:mod:`prodml.deploy.slices`), and it reads its rows from the prediction log. So when a
request's rows carry fields of those names, the model still gets its inputs alone, and
the log gets each row's inputs followed by those values, in the stream whose columns are
the model's inputs followed by the metadata names the request carries
(:func:`~prodml.serve.prediction_log.log_stream`): decoding a logged row gives both. A
request that carries none logs as it always did, to the stream of the inputs alone, and a
project without ``data.metadata`` does no more work per request.

Where a request carries them: beside the inputs in ``/predict``'s records and in every
MLflow form that names fields (``dataframe_records`` and ``instances`` objects,
``dataframe_split`` under its ``columns``, ``inputs`` by column, a CSV's header). V2 input
tensors are the model's only, so a V2 request carries them in its ``parameters``: one
value for every row (``{"gender": "female"}``), or a list of one value a row.

The project's ``data.time`` field, the time of the event a row is about, is carried the
same ways (and a request's parameter ``time`` gives all its rows one): it is logged as
the row's event time, not among its inputs (:mod:`prodml.serve.event_time`).

A value is never checked against a schema: it is one JSON value (text, a number,
true/false or null), logged exactly as sent; a CSV cell is text, an empty one null.
Anything else (a list, an object, a number the log cannot hold) is refused, naming the
row and the field. A request carries the names any of its rows carries; a row without
one of them logs null for it.

>>> fields = MetadataFields(["gender", "region"], inputs=["income", "region"], time="at")
>>> fields.names
('gender',)
>>> fields.records([{"income": 1.0, "gender": "female"}, {"income": 2.0}])
Carried(names=('gender',), values=[('female',), (None,)], times=None)
>>> fields.records([{"income": 1.0, "at": "2026-01-31T12:00:00Z"}]).times
[1769860800000000]
>>> fields.records([{"income": 1.0}]) is None
True
>>> fields.columns({"gender": "male"}, 2, '"parameters"').values
[('male',), ('male',)]
>>> fields.records([{"income": 1.0, "gender": ["f"]}])  # doctest: +ELLIPSIS
Traceback (most recent call last):
prodml.serve.rejection.Rejected: row 0, field 'gender': ["f"] is a list; a data.metadata ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from prodml.serve.event_time import event_us, row_times
from prodml.serve.rejection import Rejected, shown
from prodml.serve.validation import Row, json_kind

#: The whole numbers the log's JSON holds: 64-bit, signed or not.
_WHOLE = range(-(2**63), 2**64)


@dataclass(frozen=True, slots=True)
class Carried:
    """The metadata of a request's rows: the names it carries (in ``data.metadata``'s
    order), a tuple of their values a row, and each row's event time (microseconds; None
    where a row has none, or for all when none has)."""

    names: tuple[str, ...]
    values: list[tuple[Any, ...]]
    times: list[int | None] | None = None

    def joined(self, rows: Sequence[Row]) -> list[Row]:
        """Each of ``rows`` (the model's inputs) followed by its metadata values."""
        return [row + extra for row, extra in zip(rows, self.values, strict=True)]


class MetadataFields:
    """The metadata fields requests to one model may carry: ``names`` (the project's
    ``data.metadata``) but its ``inputs``, which it takes as inputs already, and ``time``
    (``data.time``), the event's time."""

    def __init__(
        self, names: Sequence[str], inputs: Sequence[str] = (), time: str | None = None
    ) -> None:
        self.names = tuple(name for name in names if name not in inputs)
        self.time = time

    def records(self, records: Sequence[Any], text: bool = False) -> Carried | None:
        """The metadata of rows given as objects (``text``: of CSV cells); None when no
        row carries any."""
        if not self.names and self.time is None:
            return None
        times = None
        field = self.time
        if field is not None:
            for record in records:  # a loop, not any(): a generator costs more
                if type(record) is dict and field in record:
                    found = [r.get(field) if type(r) is dict else None for r in records]
                    times = row_times(found, field, text)
                    break
        names = tuple(n for n in self.names if any(type(r) is dict and n in r for r in records))
        if not names:
            return None if times is None else Carried((), [], times)
        values = []
        for index, record in enumerate(records):
            given = record if type(record) is dict else {}
            row = []
            for name in names:
                value = given.get(name)
                row.append(None if text and value == "" else _checked(value, index, name))
            values.append(tuple(row))
        return Carried(names, values, times)

    def columns(self, columns: Mapping[str, Any], rows: int, where: str) -> Carried | None:
        """The metadata of a request of ``rows`` rows given a field at a time (MLflow
        ``inputs`` by column, V2 ``parameters``, named ``where``): a value for every row, or
        a list of one value a row; None when it carries none."""
        names = tuple(name for name in self.names if name in columns)
        times = None
        if self.time is not None and self.time in columns:
            times = row_times(_per_row(columns, self.time, rows, where), self.time)
        if not names:
            return None if times is None else Carried((), [], times)
        lists = []
        for name in names:
            given = _per_row(columns, name, rows, where)
            lists.append([_checked(value, index, name) for index, value in enumerate(given)])
        return Carried(names, list(zip(*lists, strict=True)), times)


def at_time(carried: Carried | None, value: Any, rows: int, where: str) -> Carried:
    """``carried`` with the time a request gives all its ``rows`` rows (``value``, of
    its parameter ``where``) where a row has no time of its own.

    >>> at_time(None, "2026-01-31T12:00:00Z", 2, '"params.time"').times
    [1769860800000000, 1769860800000000]
    """
    moment = event_us(value, where)
    if carried is None:
        return Carried((), [], [moment] * rows)
    own = carried.times or [None] * rows
    return replace(carried, times=[moment if t is None else t for t in own])


def _per_row(columns: Mapping[str, Any], name: str, rows: int, where: str) -> list[Any]:
    """The values of field ``name`` given a field at a time: one for every row, or a list
    of one a row."""
    given = columns[name]
    if type(given) is not list:
        return [given] * rows
    if len(given) != rows:
        raise Rejected(
            400,
            f"{where}: field '{name}' has {len(given)} values but the request has "
            f"{rows} rows; send one value a row, or one value for every row",
            name,
        )
    return given


def _checked(value: Any, index: int, name: str) -> Any:
    """``value``, when the log can hold it as one JSON value; else a 422 that says why."""
    kind = type(value)
    if kind is str:
        if value.isascii() or _utf8(value):
            return value
        what = "text with a lone surrogate, which is not UTF-8"
    elif kind is bool or value is None or (kind is float and math.isfinite(value)):
        return value
    elif kind is int:
        if value in _WHOLE:
            return value
        what = "a whole number beyond 64 bits"
    else:
        what = json_kind(value)
    raise Rejected(
        422,
        f"row {index}, field '{name}': {shown(value)} is {what}; a data.metadata field holds "
        "one value: text, a number, true/false or null",
        name,
    )


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
