"""The schema of a model's input: inferred from the training rows, used to check new data.

:func:`infer_schema` records, for each feature column, its kind, the pandas dtype seen at
training, whether values were missing, and statistics: the range and quantiles of
numbers, the share of each category, the lengths of text. :func:`validate` reads new data
against it and returns :class:`Anomaly` records, errors first, then in the schema's
column order (and, within a column, in the order of this table):

==================  ========  =========================================================
anomaly             severity  when
==================  ========  =========================================================
missing_column      error     a column of the schema is not in the data
extra_column        warning   a column that is not in the schema (the model ignores it)
wrong_type          error     values that are not of the column's kind: text in a number
                              column, a fraction in an integer column, text that does
                              not parse as a datetime, anything but true/false in a
                              boolean column
unexpected_missing  error     missing values in a column that had none in training
missing_jump        warning   the missing share rose by more than ``missing_jump``
                              (absolute) over training, in a column that had some
out_of_range        warning   numbers below the training minimum or above its maximum
unseen_category     error     category or boolean values never seen in training: an error
                              as the server refuses them (``serve.unseen: reject``), a
                              warning when it answers them (``serve.unseen: predict``)
==================  ========  =========================================================

Not wrong: whole numbers held as floats in an integer column (a CSV column with a gap is
read as float), integers in a number column, text that parses as a datetime in a
datetime column, ``"true"``, ``"0"`` and the like in a boolean column.

A datetime column keeps its minimum and maximum as ISO 8601 text (exact to the
nanosecond, and readable in the stored JSON), has no quantiles, and is never out of
range: new rows come after the training rows by nature.

:meth:`Schema.hash` covers the structure only (names, kinds, dtypes, nullability and the
set of categories), so new training data with other statistics but the same structure
keeps the hash. One check costs tens of microseconds a column for a single record, so a
server can validate every request.

>>> train = pd.DataFrame({"income": [30_000.0, 52_000.0, 75_000.0], "region": ["n", "s", "n"]})
>>> schema = infer_schema(train)
>>> [(c.name, c.kind) for c in schema.columns]
[('income', 'number'), ('region', 'category')]
>>> new = pd.DataFrame({"income": [41_000.0, 900_000.0], "region": ["n", "w"]})
>>> [(a.kind, a.severity, a.column, a.rows) for a in validate(new, schema)]
[('unseen_category', 'error', 'region', (1,)), ('out_of_range', 'warning', 'income', (1,))]
>>> [a.severity for a in validate(new, schema, unseen="predict")]
['warning', 'warning']
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast, get_args

import numpy as np
import pandas as pd

from prodml.config import Unseen
from prodml.data.documents import reading
from prodml.errors import DataError, did_you_mean, listing

Kind = Literal["number", "integer", "boolean", "category", "text", "datetime"]
AnomalyKind = Literal[
    "missing_column",
    "extra_column",
    "wrong_type",
    "unexpected_missing",
    "missing_jump",
    "out_of_range",
    "unseen_category",
]
Severity = Literal["error", "warning"]

#: the version of :meth:`Schema.to_dict`'s layout; a newer one fails with "upgrade prodml"
FORMAT_VERSION = 1
SEVERITY: dict[AnomalyKind, Severity] = {
    "missing_column": "error",
    "extra_column": "warning",
    "wrong_type": "error",
    "unexpected_missing": "error",
    "missing_jump": "warning",
    "out_of_range": "warning",
    "unseen_category": "warning",
}
QUANTILES: dict[str, float] = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.5,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
_EXAMPLE_ROWS = 10  # row labels an anomaly carries
_SMALL = 64  # up to this many values, a Python loop beats a pandas call's fixed cost
_TRUE_FALSE = {"true": True, "false": False, "1": True, "0": False}
_ORDER = {kind: i for i, kind in enumerate(get_args(AnomalyKind))}
#: what an unseen category's message adds, by serve.unseen
_UNSEEN: dict[Unseen, str] = {
    "reject": " (the server refuses such rows: serve.unseen is reject; set it to predict "
    "to have the model answer them)",
    "predict": " (the model answers such rows: serve.unseen is predict)",
}


@dataclass(frozen=True)
class ColumnSchema:
    """One feature column as training saw it."""

    name: str
    kind: Kind
    dtype: str  # the pandas dtype at training, as text: "float64", "str", "category"
    nullable: bool  # were there missing values in training?
    missing_share: float
    minimum: float | str | None = None  # number, integer; datetime as ISO 8601 text
    maximum: float | str | None = None
    quantiles: dict[str, float] | None = None  # number, integer: the keys of QUANTILES
    categories: dict[str, float] | None = None  # category, boolean: value -> share
    length: dict[str, float] | None = None  # category, text: "min", "mean", "max"


@dataclass(frozen=True)
class Schema:
    """The columns a model's input must have, and what their values looked like."""

    columns: tuple[ColumnSchema, ...]
    rows: int  # training rows the statistics come from

    def column(self, name: str) -> ColumnSchema:
        """The column called ``name``; a :class:`DataError` with a did-you-mean if none."""
        for column in self.columns:
            if column.name == name:
                return column
        names = [c.name for c in self.columns]
        raise DataError(
            f"column '{name}' is not in the schema; its columns are: "
            f"{listing(names)}{did_you_mean(name, names)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``json.dumps``; fields that do not apply to a column are left out."""
        return {
            "format_version": FORMAT_VERSION,
            "rows": self.rows,
            "columns": [
                {k: v for k, v in asdict(c).items() if v is not None} for c in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Schema:
        """The schema :meth:`to_dict` wrote, equal to the one it was written from."""
        with reading("schema", raw, FORMAT_VERSION, "Schema.to_dict()"):
            columns = tuple(ColumnSchema(**column) for column in raw["columns"])
            schema = cls(columns, int(raw["rows"]))
        for column in columns:
            if column.kind not in get_args(Kind):
                raise DataError(
                    f"schema column '{column.name}' has kind '{column.kind}'; kinds are: "
                    f"{listing(get_args(Kind))}"
                )
        return schema

    def hash(self) -> str:
        """SHA-256 (hex) of the names, kinds, dtypes, nullability and category sets.

        Statistics (shares, ranges, quantiles, lengths, rows) are left out, so two
        schemas hash alike when the same model could read data fitting either.
        """
        structure = [
            [
                c.name,
                c.kind,
                c.dtype,
                c.nullable,
                None if c.categories is None else sorted(c.categories),
            ]
            for c in self.columns
        ]
        return hashlib.sha256(json.dumps(structure).encode()).hexdigest()


@dataclass(frozen=True)
class Anomaly:
    """One way new data differs from the schema."""

    kind: AnomalyKind
    column: str
    severity: Severity
    count: int  # rows affected; 0 for a missing or extra column
    rows: tuple[Any, ...]  # up to 10 examples: index labels, or ids when given
    message: str


def infer_schema(
    frame: pd.DataFrame, columns: Sequence[str] | None = None, max_categories: int = 1000
) -> Schema:
    """The schema of ``columns`` (default: all) of the training rows ``frame``.

    Kinds by dtype: bool is boolean, integers integer, floats number (even when every
    value is whole), datetime64 datetime; pandas categories, strings and objects are
    category up to ``max_categories`` distinct values and text above.

    >>> frame = pd.DataFrame({"age": [30, 41, 52], "city": ["Oslo", "Rome", None]})
    >>> age, city = infer_schema(frame).columns
    >>> age.kind, age.minimum, age.quantiles["p50"], city.nullable, city.categories
    ('integer', 30.0, 41.0, True, {'Oslo': 0.5, 'Rome': 0.5})
    """
    if len(frame) == 0:
        raise DataError("cannot infer a schema from a frame of no rows; give the training rows")
    labels = {str(c): c for c in frame.columns}
    names = list(labels) if columns is None else [str(c) for c in columns]
    for name in names:
        if name not in labels:
            raise DataError(
                f"'{name}' is not a column of the training data; columns are: "
                f"{listing(labels)}{did_you_mean(name, labels)}"
            )
    return Schema(
        tuple(_infer(name, frame[labels[name]], max_categories) for name in names), len(frame)
    )


def validate(
    frame: pd.DataFrame,
    schema: Schema,
    *,
    ids: pd.Series | None = None,
    missing_jump: float = 0.1,
    unseen: Unseen = "reject",
) -> list[Anomaly]:
    """The anomalies of ``frame`` against ``schema``: errors first, then by schema column.

    Example rows are ``frame``'s index labels, or the values of ``ids`` (one per row, by
    position). A single record makes every missing value a jump in its share: pass
    ``missing_jump=1.0`` to leave that check to batches. ``unseen`` is the server's
    policy (``serve.unseen``): an unseen category is an error where it refuses them.
    """
    severity: dict[AnomalyKind, Severity] = {
        **SEVERITY,
        "unseen_category": "error" if unseen == "reject" else "warning",
    }
    if ids is not None and len(ids) != len(frame):
        raise DataError(
            f"ids has {len(ids)} values but the data has {len(frame)} rows; give one id a row"
        )
    if not frame.columns.is_unique:
        twice = frame.columns[frame.columns.duplicated()].unique()
        raise DataError(f"columns {listing(twice)} appear more than once; keep one of each")
    labels = frame.index if ids is None else ids.to_numpy()
    present = {str(c): c for c in frame.columns.tolist()}
    known = {c.name: i for i, c in enumerate(schema.columns)}
    extra = [name for name in present if name not in known]
    absent = [c.name for c in schema.columns if c.name not in present]
    found: list[Anomaly] = []
    for column in schema.columns:
        if column.name in present:
            series = frame[present[column.name]]
            for kind, rows, message in _check(column, series, missing_jump, _UNSEEN[unseen]):
                positions = np.flatnonzero(rows)
                examples = tuple(_plain(labels[p]) for p in positions[:_EXAMPLE_ROWS])
                found.append(
                    Anomaly(kind, column.name, severity[kind], len(positions), examples, message)
                )
        else:
            message = (
                f"column '{column.name}' ({column.kind}) is not in the data, and the model "
                "needs it; add it or rename the column that holds it"
                + did_you_mean(column.name, extra)
            )
            found.append(
                Anomaly("missing_column", column.name, SEVERITY["missing_column"], 0, (), message)
            )
    for name in extra:
        message = (
            f"column '{name}' is not in the schema, so the model ignores it; drop it, or "
            f"retrain with it to use it{did_you_mean(name, absent)}"
        )
        found.append(Anomaly("extra_column", name, SEVERITY["extra_column"], 0, (), message))
    return sorted(
        found,
        key=lambda a: (a.severity != "error", known.get(a.column, len(known)), _ORDER[a.kind]),
    )


# --- inference ---------------------------------------------------------------------------


def _infer(name: str, series: pd.Series, max_categories: int) -> ColumnSchema:
    missing = int(series.isna().sum())
    kind = _kind(name, series.dtype)
    column = ColumnSchema(name, kind, str(series.dtype), missing > 0, missing / len(series))
    present = series.dropna()
    if kind in ("number", "integer"):
        if present.empty:
            return column
        values = present.to_numpy(dtype=np.float64)
        cuts = np.quantile(values, list(QUANTILES.values()))
        return _with(
            column,
            minimum=float(values.min()),
            maximum=float(values.max()),
            quantiles={key: float(q) for key, q in zip(QUANTILES, cuts, strict=True)},
        )
    if kind == "datetime":
        if present.empty:
            return column
        return _with(column, minimum=present.min().isoformat(), maximum=present.max().isoformat())
    shares = series.value_counts(normalize=True)
    shares = shares[shares > 0]  # a pandas category's unused values were never seen
    categories: dict[str, float] = collections.defaultdict(float)
    for value, share in shares.items():
        categories[str(value)] += float(share)
    if kind == "boolean":
        return _with(column, categories=dict(categories))
    lengths = np.array([len(key) for key in categories], dtype=np.int64)
    length = None
    if lengths.size:
        mean = float(lengths @ np.fromiter(categories.values(), np.float64, lengths.size))
        length = {"min": int(lengths.min()), "mean": mean, "max": int(lengths.max())}
    if len(categories) > max_categories:
        return _with(column, kind="text", length=length)
    return _with(column, categories=dict(categories), length=length)


def _kind(name: str, dtype: Any) -> Kind:
    types = pd.api.types
    if types.is_bool_dtype(dtype):
        return "boolean"
    if types.is_integer_dtype(dtype):
        return "integer"
    if types.is_float_dtype(dtype):
        return "number"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if (
        isinstance(dtype, pd.CategoricalDtype)
        or types.is_string_dtype(dtype)
        or types.is_object_dtype(dtype)
    ):
        return "category"
    raise DataError(
        f"column '{name}' holds {dtype} values, which a schema does not describe; "
        "convert it to numbers, text, true/false or datetimes before fitting"
    )


def _with(column: ColumnSchema, **changes: Any) -> ColumnSchema:
    return ColumnSchema(**{**asdict(column), **changes})


# --- validation ----------------------------------------------------------------------------

_Finding = tuple[AnomalyKind, np.ndarray, str]  # kind, a bool per row, message


def _check(
    column: ColumnSchema, series: pd.Series, missing_jump: float, policy: str
) -> Iterator[_Finding]:
    if column.kind in ("number", "integer"):
        missing, findings = _numbers(column, series)
    elif column.kind == "datetime":
        missing, findings = _datetimes(column, series)
    else:
        missing, findings = _categories(column, series, policy)
    yield from findings
    count, rows = int(missing.sum()), len(missing)
    if count and not column.nullable:
        yield (
            "unexpected_missing",
            missing,
            f"column '{column.name}' has {_many(count, 'missing value')} but had none in training, "
            "so the model never saw one there; fill them or drop those rows",
        )
    elif count and count / rows - column.missing_share > missing_jump:
        yield (
            "missing_jump",
            missing,
            f"column '{column.name}' is missing in {count / rows:.1%} of the rows ({count} of "
            f"{rows}) against {column.missing_share:.1%} in training, a rise of "
            f"{(count / rows - column.missing_share) * 100:.1f} points where "
            f"{missing_jump * 100:.1f} are allowed; find what changed upstream, or raise "
            "missing_jump",
        )


def _numbers(column: ColumnSchema, series: pd.Series) -> tuple[np.ndarray, list[_Finding]]:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        raw: np.ndarray = series.to_numpy(dtype=object)
        missing = pd.isna(raw)
        values = np.full(len(raw), np.nan)  # true/false is no number, though pandas says 1/0
        if not pd.api.types.is_bool_dtype(dtype):
            values = np.asarray(pd.to_numeric(raw, errors="coerce"), dtype=np.float64)
    else:
        # numpy's own cast is 15 times faster than to_numpy(na_value=), which only the
        # nullable dtypes (Int64, Float64) need
        if isinstance(dtype, np.dtype):
            values = series.to_numpy().astype(np.float64, copy=False)
        else:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        raw, missing = values, np.isnan(values)
    wrong = np.isnan(values) & ~missing
    if column.kind == "integer":
        wrong |= ~missing & (np.isinf(values) | (values != np.floor(values)))
    findings: list[_Finding] = []
    if wrong.any():
        expected = "whole numbers" if column.kind == "integer" else "numbers"
        findings.append(_wrong_type(column, raw, wrong, expected, "correct or drop those rows"))
    if column.minimum is not None and column.maximum is not None:
        low, high = float(column.minimum), float(column.maximum)
        below, above = values < low, values > high
        outside = (below | above) & ~wrong
        if outside.any():
            seen = values[~missing & ~wrong]
            findings.append(
                (
                    "out_of_range",
                    outside,
                    f"column '{column.name}' has {_many(int(outside.sum()), 'value')} outside the "
                    f"training range {_shown(low)} to {_shown(high)} ({int(below.sum())} "
                    f"below, {int(above.sum())} above; seen {_shown(seen.min())} to "
                    f"{_shown(seen.max())}); check the units and the source, or retrain "
                    "on data that covers them",
                )
            )
    return missing, findings


def _datetimes(column: ColumnSchema, series: pd.Series) -> tuple[np.ndarray, list[_Finding]]:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return pd.isna(series.array), []  # 3 µs; series.isna() builds a Series: 27 µs
    codes, uniques = _factorize(series)
    missing = codes < 0
    text = [i for i, v in enumerate(uniques) if isinstance(v, str)]
    bad = [
        i for i, v in enumerate(uniques) if not isinstance(v, str | datetime.date | np.datetime64)
    ]
    if len(text) <= _SMALL:
        bad += [i for i in text if not _parses(uniques[i])]
    else:
        strings = pd.Series([uniques[i] for i in text], dtype=object)
        parsed = pd.to_datetime(strings, errors="coerce", format="ISO8601", utc=True)
        retry = np.flatnonzero(parsed.isna().to_numpy())  # not ISO 8601: try every format
        again = pd.to_datetime(strings.iloc[retry], errors="coerce", format="mixed", utc=True)
        bad += [text[i] for i in retry[again.isna().to_numpy()]]
    if not bad:
        return missing, []
    wrong = np.isin(codes, bad)
    fix = "write them as ISO 8601 text, e.g. 2024-10-01T12:00:00"
    return missing, [_wrong_type(column, series.to_numpy(), wrong, "datetimes", fix)]


def _parses(text: str) -> bool:
    try:
        return bool(pd.notna(pd.Timestamp(text)))  # the text "NaT" gives no time
    except ValueError:
        return False


def _categories(
    column: ColumnSchema, series: pd.Series, policy: str
) -> tuple[np.ndarray, list[_Finding]]:
    codes, uniques = _factorize(series)
    missing = codes < 0
    if column.categories is None:  # text: any value will do
        return missing, []
    findings: list[_Finding] = []
    counts = np.bincount(codes[~missing], minlength=len(uniques))
    used = np.flatnonzero(counts).tolist()  # a pandas category may list values with no rows
    keys = {i: str(uniques[i]) for i in used}
    if column.kind == "boolean":
        flags = {i: _true_false(uniques[i]) for i in used}
        keys = {i: str(flag) for i, flag in flags.items() if flag is not None}
        bad = [i for i, flag in flags.items() if flag is None]
        if bad:
            wrong = np.isin(codes, bad)
            fix = "write true or false"
            findings.append(_wrong_type(column, series.to_numpy(), wrong, "true or false", fix))
    unseen = [i for i, key in keys.items() if key not in column.categories]
    if unseen:
        unseen.sort(key=lambda i: -counts[i])
        values = ", ".join(f"'{keys[i]}' ({counts[i]})" for i in unseen[:5])
        more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
        findings.append(
            (
                "unseen_category",
                np.isin(codes, unseen),
                f"column '{column.name}' has {_many(len(unseen), 'value')} never seen in training: "
                f"{values}{more}; known values are: {listing(column.categories, limit=10)}; "
                f"map them to a known value or retrain on data that has them{policy}"
                + did_you_mean(keys[unseen[0]], column.categories),
            )
        )
    return missing, findings


def _factorize(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """A code per row (-1 where missing) into the list of distinct values."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        array = cast(pd.Categorical, series.array)
        return np.asarray(array.codes, dtype=np.intp), list(array.categories)
    values = series.to_numpy()
    if len(values) > _SMALL:
        codes, uniques = pd.factorize(values)
        return codes, list(uniques)
    index: dict[Any, int] = {}
    small = [-1 if _missing(v) else index.setdefault(v, len(index)) for v in values.tolist()]
    return np.array(small, dtype=np.intp), list(index)


def _missing(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    return value is None or value is pd.NA or value is pd.NaT


def _true_false(value: Any) -> bool | None:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        return _TRUE_FALSE.get(value.strip().lower())
    if isinstance(value, int | float | np.number) and value in (0, 1):
        return bool(value)
    return None


def _wrong_type(
    column: ColumnSchema, raw: np.ndarray, wrong: np.ndarray, expected: str, fix: str
) -> _Finding:
    seen = collections.Counter(raw[wrong].tolist()).most_common(5)
    values = ", ".join(f"{_shown(v)} ({n})" for v, n in seen)
    return (
        "wrong_type",
        wrong,
        f"column '{column.name}' expects {expected} ({column.kind}, {column.dtype} in "
        f"training), and {_many(int(wrong.sum()), 'row')} hold other values: {values}; {fix}",
    )


def _shown(value: Any) -> str:
    """A value as a message shows it: text quoted, whole numbers without a fraction."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        number = float(value)
        return str(int(number)) if abs(number) < 1e15 else f"{number:g}"
    return str(value)


def _many(count: int, noun: str) -> str:
    """``_many(1, "row")`` is "1 row", ``_many(3, "row")`` "3 rows"."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _plain(value: Any) -> Any:
    """numpy scalars become Python ones, so example rows print and serialise plainly."""
    return value.item() if isinstance(value, np.generic) else value
