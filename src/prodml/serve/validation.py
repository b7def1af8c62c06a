"""Request rows checked against a model's input schema, on plain Python values, before pandas.

:class:`RowChecker` compiles a :class:`~prodml.data.schema.Schema` once into one small
function a column, so a request of one row costs a few microseconds a column. Each row
comes out as a tuple in the schema's column order, its values JSON-plain (numbers, text,
true/false, null for missing), ready for the model's frame and for the prediction log.

Values come in two ways: as JSON (``check``: a number column takes numbers, a category
column text) or as text (``parse``: CSV cells and V2 ``BYTES`` tensors, where ``"3.5"`` is a
number and an empty cell is missing). What is refused, with a 422 that names the row, the
field, the value and what is allowed:

- a missing field, or a row that is not an object (or not a list of the right length);
- a value of the wrong type: text or true/false in a number column, a fraction in an
  integer column, infinity, text that is not a datetime;
- null or NaN in a column that had no missing values in training;
- a category (or a true/false) never seen in training, unless ``unseen`` is ``predict``
  (``serve.unseen`` in ``prodml.yaml``): then the model answers it, as ``prodml data
  validate`` and ``prodml evaluate`` let it through with a warning.

A refusal names every bad field of every row, not only the first. A number outside the
training range is let through (the model extrapolates) and counted by
``on_out_of_range``, which the server turns into a Prometheus counter.

:meth:`RowChecker.records` checks a list of objects at once: when every column is a number
and every value a finite float (the common case of a many-row request), with numpy rather
than a function call a value, and the rows come out as :class:`FloatRows`, which keep the
float64 matrix that check made for the model's input and the prediction log; anything else
goes through :meth:`~RowChecker.record`, whose refusals name the row and field.

>>> from prodml.data.schema import infer_schema
>>> import pandas as pd
>>> train = pd.DataFrame({"income": [30e3, 75e3], "region": pd.Categorical(["n", "s"])})
>>> checker = RowChecker(infer_schema(train))
>>> checker.record({"income": 41000, "region": "n"}, 0)
(41000, 'n')
>>> checker.record({"income": 41000, "region": "w"}, 3)  # doctest: +ELLIPSIS
Traceback (most recent call last):
prodml.serve.rejection.Rejected: row 3, field 'region': 'w' was never seen in training; ...
>>> checker.record({"income": "hi", "region": "w"}, 3)  # doctest: +ELLIPSIS
Traceback (most recent call last):
prodml.serve.rejection.Rejected: 2 fields do not fit the model's input: (1) row 3, field ...
>>> RowChecker(infer_schema(train), unseen="predict").record({"income": 1, "region": "w"}, 3)
(1, 'w')
"""

from __future__ import annotations

import datetime
import itertools
import math
import operator
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np

from prodml.config import Unseen
from prodml.data.schema import ColumnSchema, Schema
from prodml.errors import did_you_mean, listing
from prodml.serve.rejection import SHOWN, Rejected, shown

Row = tuple[Any, ...]
Check = Callable[[Any], Any]

_INT64 = 2**63
_LARGEST = sys.float_info.max
_NAMED = 10  # the most bad fields one refusal lists
_MISSING_TEXT = frozenset({"", "nan", "null", "na", "none"})
_TRUE_FALSE = {"true": True, "false": False, "1": True, "0": False}
_EXPECTED = {
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "category": "text",
    "text": "text",
    "datetime": "an ISO 8601 datetime as text",
}


class FloatRows(list[Row]):
    """Checked rows whose every value is a finite float, with the same values as one
    C-ordered float64 ``matrix`` (a row of it a row of the list). The check makes that
    matrix anyway; the model's input (:func:`~prodml.serve.frame.matrix`) and the
    prediction log's bytes are then copied from it, where converting the tuples' Python
    floats again cost each of them about 100 microseconds for 100 rows of 30 columns.
    Nothing writes to the matrix: whoever needs to gets a copy.

    >>> rows = FloatRows([(1.0, 2.0)], np.array([[1.0, 2.0]]))
    >>> rows, rows.matrix.shape
    ([(1.0, 2.0)], (1, 2))
    """

    def __init__(self, rows: Sequence[Row], matrix: np.ndarray) -> None:
        super().__init__(rows)
        self.matrix = matrix


def joined(parts: Sequence[Sequence[Row]]) -> list[Row]:
    """The rows of ``parts`` (the requests of a batch) in one list: :class:`FloatRows`
    when every part is, its matrix the parts' stacked.

    >>> one = FloatRows([(1.0,)], np.array([[1.0]]))
    >>> both = joined([one, FloatRows([(2.0,)], np.array([[2.0]]))])
    >>> type(both).__name__, both, both.matrix.ravel().tolist()
    ('FloatRows', [(1.0,), (2.0,)], [1.0, 2.0])
    >>> type(joined([one, [(3.0,)]])).__name__
    'list'
    """
    rows = list(itertools.chain.from_iterable(parts))
    if all(type(part) is FloatRows for part in parts):
        return FloatRows(rows, np.concatenate([cast(FloatRows, p).matrix for p in parts]))
    return rows


class _Bad(Exception):
    """A value that does not fit its column; the caller adds the row and field."""


class RowChecker:
    """The schema's columns as checks; see the module docstring."""

    def __init__(
        self,
        schema: Schema,
        on_out_of_range: Callable[[str], None] | None = None,
        unseen: Unseen = "reject",
    ) -> None:
        self.schema = schema
        self.names: tuple[str, ...] = tuple(c.name for c in schema.columns)
        note = on_out_of_range or (lambda _name: None)
        self._checks = tuple(_json_check(c, note, unseen) for c in schema.columns)
        self._parsers = tuple(
            _text_check(c, check) for c, check in zip(schema.columns, self._checks, strict=True)
        )
        self._named = tuple(zip(self.names, self._checks, strict=True))
        self._named_text = tuple(zip(self.names, self._parsers, strict=True))
        self._note = note
        # the fast path of records(): every column a number (not an integer, which the
        # checks turn into ints), two or more (itemgetter of one name gives no tuple)
        numbers = len(self.names) > 1 and all(c.kind == "number" for c in schema.columns)
        self._numbers = numbers
        self._keyed: tuple[tuple[Any, ...], Callable[[Any], Row]] | None = None
        columns = schema.columns if numbers else ()
        # finite bounds (the largest float where training gave none), so that values
        # within them are finite: one test of the common case instead of two
        self._low = np.array([-_LARGEST if c.minimum is None else c.minimum for c in columns])
        self._high = np.array([_LARGEST if c.maximum is None else c.maximum for c in columns])

    def checks(self, text: bool = False) -> tuple[Check, ...]:
        """One check a column, in schema order: of JSON values, or of ``text``."""
        return self._parsers if text else self._checks

    def record(self, record: Any, index: int, text: bool = False) -> Row:
        """A JSON object of field: value (or of ``text`` values), checked; extra fields
        are ignored."""
        if type(record) is not dict:
            raise self._not_an_object(record, index)
        named = self._named_text if text else self._named
        try:
            return tuple([check(record[name]) for name, check in named])
        except (KeyError, _Bad):
            raise combined(self._problems(record, index, text, lists=False)) from None

    def records(self, records: list[Any]) -> list[Row]:
        """Each JSON object of ``records`` checked, as :meth:`record` checks one; a refusal
        names every bad field of every row.

        >>> from prodml.data.schema import infer_schema
        >>> import pandas as pd
        >>> checker = RowChecker(infer_schema(pd.DataFrame({"a": [0.5, 1.5], "b": [2.0, 4.0]})))
        >>> checker.records([{"a": 1.0, "b": 3.0}, {"b": 9.5, "a": 0.75, "c": "x"}])
        [(1.0, 3.0), (0.75, 9.5)]
        """
        rows = self._floats(records)
        if rows is not None:
            return rows
        try:
            return [self.record(record, i) for i, record in enumerate(records)]
        except Rejected:
            raise self._every_problem(records, range(len(records)), False, False) from None

    def rows(
        self, given: Sequence[Any], text: bool = False, numbers: Sequence[int] | None = None
    ) -> list[Row]:
        """Each row of ``given`` checked: an object of field: value (:meth:`record`) or a
        list in the schema's order (:meth:`values`); ``numbers``, each row's number for
        messages (default its position). A refusal names every bad field of every row."""
        numbered = range(len(given)) if numbers is None else numbers
        try:
            return [
                self.values(row, i, text) if type(row) is list else self.record(row, i, text)
                for i, row in zip(numbered, given, strict=True)
            ]
        except Rejected:
            raise self._every_problem(given, numbered, text, True) from None

    def _every_problem(
        self, given: Sequence[Any], numbers: Sequence[int], text: bool, lists: bool
    ) -> Rejected:
        pairs = zip(numbers, given, strict=True)
        return combined([p for i, row in pairs for p in self._problems(row, i, text, lists)])

    def _floats(self, records: list[Any]) -> FloatRows | None:
        """The rows of ``records``, with their matrix, when every column is a number and
        every value a finite float, the out-of-range values counted; None otherwise."""
        if not self._numbers or not records or not all(type(r) is dict for r in records):
            return None
        try:
            rows: list[Row] = list(map(self._by_keys_of(records[0]), records))
        except KeyError:
            return None
        size = len(rows) * len(self.names)
        # counted in a list: half the time of a set of the types
        if list(map(type, itertools.chain.from_iterable(rows))).count(float) != size:
            return None
        # fromiter over the floats: a third faster than np.array of the tuples
        values = np.fromiter(itertools.chain.from_iterable(rows), np.float64, size)
        values = values.reshape(len(rows), len(self.names))
        inside = (values >= self._low) & (values <= self._high)  # NaN is not
        if not inside.all():
            if not np.isfinite(values).all():
                return None
            for position in np.nonzero(~inside)[1]:
                self._note(self.names[position])
        return FloatRows(rows, values)

    def _by_keys_of(self, record: dict[str, Any]) -> Callable[[Any], Row]:
        """The fast path's getter of the columns by the very key objects of ``record``, as
        long as they are those of the last call's first record. orjson hands out one
        object a key (it caches them), and a dictionary finds the very object without
        comparing strings: 100 rows of 30 columns, 65 -> 30 us. Any equal names find the
        same values: which objects look them up changes the speed alone."""
        keyed = self._keyed
        if (
            keyed is None
            or len(keyed[0]) != len(record)
            or not all(map(operator.is_, keyed[0], record))
        ):
            own = {key: key for key in record}
            getter = operator.itemgetter(*[own.get(name, name) for name in self.names])
            keyed = self._keyed = (tuple(record), getter)
        return keyed[1]

    def values(self, values: Any, index: int, text: bool = False) -> Row:
        """A row of values in the schema's column order (a list), checked."""
        if type(values) is not list or len(values) != len(self.names):
            raise self._wrong_length(values, index)
        checks = self._parsers if text else self._checks
        try:
            return tuple([check(value) for check, value in zip(checks, values, strict=True)])
        except _Bad:
            raise combined(self._problems(values, index, text, lists=True)) from None

    def column(self, position: int, values: Sequence[Any], text: bool = False) -> list[Any]:
        """Every value of the column at ``position`` (one per row), checked; a refusal
        names every bad value."""
        check = (self._parsers if text else self._checks)[position]
        try:
            return [check(value) for value in values]
        except _Bad:
            raise combined(self.column_problems(position, values, text)) from None

    def column_problems(
        self, position: int, values: Sequence[Any], text: bool = False
    ) -> list[Rejected]:
        """Each value of the column at ``position`` that does not fit, as its refusal."""
        check = (self._parsers if text else self._checks)[position]
        name = self.names[position]
        return [p for i, value in enumerate(values) for p in _problem(check, value, i, name)]

    def _problems(self, row: Any, index: int, text: bool, lists: bool) -> list[Rejected]:
        """Every way ``row`` (an object, or with ``lists`` a list in the schema's order)
        does not fit."""
        checks = self._parsers if text else self._checks
        if lists and type(row) is list:
            if len(row) != len(self.names):
                return [self._wrong_length(row, index)]
            pairs = zip(self.names, checks, row, strict=True)
            return [p for name, check, value in pairs for p in _problem(check, value, index, name)]
        if type(row) is not dict:
            return [self._not_an_object(row, index)]
        return [
            p
            for name, check in zip(self.names, checks, strict=True)
            for p in (
                _problem(check, row[name], index, name)
                if name in row
                else [self.missing_field(name, index, row)]
            )
        ]

    def _not_an_object(self, record: Any, index: int) -> Rejected:
        return Rejected(
            422,
            f"row {index} is {json_kind(record)}; expected an object of field: value "
            f"with the fields {listing(self.names)}",
        )

    def _wrong_length(self, values: Any, index: int) -> Rejected:
        size = f"{len(values)} values" if type(values) is list else json_kind(values)
        return Rejected(
            422,
            f"row {index} is {size}; expected a list of {len(self.names)} values in the "
            f"order {listing(self.names)}",
        )

    def missing_field(self, name: str, index: int, record: Mapping[str, Any]) -> Rejected:
        """The rejection of a row that lacks the field ``name``."""
        extra = [key for key in record if key not in self.names]
        column = self.schema.column(name)
        return Rejected(
            422,
            f"row {index} has no field '{name}' ({column.kind}); the model needs each of "
            f"{listing(self.names)}{did_you_mean(name, extra)}",
            name,
        )


def combined(problems: Sequence[Rejected]) -> Rejected:
    """One 422 for every way a request does not fit: the problem itself when there is one;
    else the first in full and the others by what is wrong (the first ten), numbered, with
    the first bad field as the field.

    >>> one = Rejected(422, "row 0, field 'a': 'x' is text; expected a number", "a")
    >>> two = Rejected(422, "row 1, field 'b': null is missing, but ...; send text", "b")
    >>> combined([one, two]).message  # doctest: +NORMALIZE_WHITESPACE
    "2 fields do not fit the model's input: (1) row 0, field 'a': 'x' is text; expected a
    number; (2) row 1, field 'b': null is missing"
    """
    if len(problems) == 1:
        return problems[0]
    first, *others = problems[:_NAMED]
    named = [first.message, *(p.message.split("; ")[0].split(", but ")[0] for p in others)]
    listed = "; ".join(f"({i}) {message}" for i, message in enumerate(named, 1))
    more = f"; and {len(problems) - _NAMED} more" if len(problems) > _NAMED else ""
    field = next((p.field for p in problems if p.field), None)
    return Rejected(
        422, f"{len(problems)} fields do not fit the model's input: {listed}{more}", field
    )


def _problem(check: Check, value: Any, index: int, name: str) -> list[Rejected]:
    """The refusal of ``value`` in field ``name`` of row ``index``, if it is refused."""
    try:
        check(value)
    except _Bad as bad:
        return [Rejected(422, f"row {index}, field '{name}': {bad}", name)]
    return []


# --- checks of JSON values ---------------------------------------------------------------


def _json_check(column: ColumnSchema, note: Callable[[str], None], unseen: Unseen) -> Check:
    if column.kind in ("number", "integer"):
        return _number_check(column, note)
    if column.kind == "boolean":
        return _boolean_check(column, unseen)
    if column.kind == "datetime":
        return _datetime_check(column)
    return _category_check(column, unseen)


def _number_check(column: ColumnSchema, note: Callable[[str], None]) -> Check:
    name, nullable, whole = column.name, column.nullable, column.kind == "integer"
    low = -math.inf if column.minimum is None else float(column.minimum)
    high = math.inf if column.maximum is None else float(column.maximum)

    def check(value: Any) -> Any:
        kind = type(value)
        if kind is float:
            if value != value:  # NaN
                if not nullable:
                    raise _missing(column, value)
                return None
            if value in (math.inf, -math.inf):
                raise _Bad(f"{shown(value)} is not a finite number; expected {_expected(column)}")
            if whole:
                if not value.is_integer() or not -_INT64 <= value < _INT64:
                    raise _wrong(column, value)
                value = int(value)
        elif kind is int:
            if whole and not -_INT64 <= value < _INT64:
                raise _Bad(f"{value} does not fit a 64-bit integer; expected {_expected(column)}")
            if not whole and abs(value) > 2**1023:
                raise _wrong(column, value)
        elif value is None:
            if not nullable:
                raise _missing(column, value)
            return None
        else:
            raise _wrong(column, value)
        if not low <= value <= high:
            note(name)
        return value

    return check


def _boolean_check(column: ColumnSchema, unseen: Unseen) -> Check:
    # a column that held one of true and false in training has seen only that one
    known = frozenset(column.categories or ()) if unseen == "reject" else frozenset()
    one = len(known) == 1

    def check(value: Any) -> Any:
        if type(value) is bool:
            flag = value
        elif value is None or (type(value) is float and value != value):
            if not column.nullable:
                raise _missing(column, value)
            return None
        elif type(value) is int and value in (0, 1):
            flag = bool(value)
        elif type(value) is str and value.strip().lower() in _TRUE_FALSE:
            flag = _TRUE_FALSE[value.strip().lower()]
        else:
            raise _wrong(column, value)
        if one and str(flag) not in known:
            raise _unseen(column, flag)
        return flag

    return check


def _category_check(column: ColumnSchema, unseen: Unseen) -> Check:
    reject = unseen == "reject" and column.categories is not None
    known = frozenset(column.categories) if reject and column.categories is not None else None

    def check(value: Any) -> Any:
        kind = type(value)
        if kind is not str:
            if value is None or (kind is float and value != value):
                if not column.nullable:
                    raise _missing(column, value)
                return None
            if kind is bool or kind not in (int, float):
                raise _wrong(column, value)
            value = str(value)  # a category read from numbers is kept as text
        if known is not None and value not in known:
            raise _unseen(column, value)
        return value

    return check


def _datetime_check(column: ColumnSchema) -> Check:
    def check(value: Any) -> Any:
        if value is None:
            if not column.nullable:
                raise _missing(column, value)
            return None
        if type(value) is not str:
            raise _wrong(column, value)
        try:
            datetime.datetime.fromisoformat(value)
        except ValueError:
            raise _wrong(column, value) from None
        return value

    return check


# --- checks of text (CSV cells, BYTES tensors) -------------------------------------------


def _text_check(column: ColumnSchema, check: Check) -> Check:
    kind = column.kind
    if kind in ("category", "text", "datetime"):

        def parse_text(value: Any) -> Any:
            return check(None if value == "" else value)

        return parse_text

    def parse(value: Any) -> Any:
        if type(value) is not str:
            return check(value)
        text = value.strip()
        if text.lower() in _MISSING_TEXT:
            return check(None)
        if kind == "boolean":
            return check(text)
        try:
            number: float | int = int(text) if kind == "integer" else float(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise _wrong(column, value) from None
        return check(number)

    return parse


# --- messages ------------------------------------------------------------------------------


def _expected(column: ColumnSchema) -> str:
    return f"{_EXPECTED[column.kind]} (the column was {column.dtype} in training)"


def _wrong(column: ColumnSchema, value: Any) -> _Bad:
    return _Bad(f"{shown(value)} is {json_kind(value)}; expected {_expected(column)}")


def _missing(column: ColumnSchema, value: Any) -> _Bad:
    return _Bad(
        f"{shown(value)} is missing, but the column had no missing values in training, so "
        f"the model never saw one there; send {_expected(column)}"
    )


def _unseen(column: ColumnSchema, value: Any) -> _Bad:
    categories = column.categories or {}
    suggestion = _suggestion(value, categories) if type(value) is str else ""
    return _Bad(
        f"{shown(value)} was never seen in training; known values are: "
        f"{listing(sorted(categories), limit=10)}{suggestion}"
    )


def _suggestion(value: str, categories: Mapping[str, Any]) -> str:
    """Did you mean...? for a value of a few words only: difflib's time grows with the
    value's length (110 ms for 1 MB), and a long value is no typo of a category."""
    return "" if len(value) > SHOWN else did_you_mean(value, categories)


def json_kind(value: Any) -> str:
    """What a JSON value is, for a message: ``a fraction``, ``text``, ``a list``...

    >>> json_kind(0.5), json_kind([1]), json_kind(float("inf"))
    ('a fraction', 'a list', 'not a number')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a fraction" if math.isfinite(value) else "not a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
