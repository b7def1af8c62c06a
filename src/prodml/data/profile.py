"""The reference profile: per-feature statistics taken once, in one pass, at fit time.

Monitoring compares production windows with it (KS, chi-square, Wasserstein, PSI, ...),
so it keeps, in bounded size, what those need, whatever the number of rows:

- numeric and datetime columns: exact count, missing, min, max, mean and standard
  deviation (ddof=1, as pandas), merged chunk by chunk with Chan et al.'s update; and
  the column's values at a uniform random sample of rows;
- categorical, text and boolean columns: exact counts of each value, up to
  ``max_categories`` values; rows with a value first seen after that count in ``other``.
  A boolean column is a two-value categorical: its counts fix every moment exactly;
- model outputs, if given: predicted classes as a categorical (exact class shares), or
  regression values as a numeric; the confidence (largest class probability) as a
  numeric, plus exact counts in 20 equal bins over [0, 1].

The sample is one bottom-k priority sample of *rows*: every row draws a uniform key from
a generator seeded with ``seed``, and the ``sample_size`` rows with the smallest keys are
kept. It is the same rows for every column (joint structure survives), the same rows
however the data is cut into chunks, and never more than ``sample_size`` rows in memory.
Datetime columns are profiled as seconds since 1970-01-01 UTC (floats; a naive datetime
is read as UTC). Any other type is categorical, its values compared as text.

>>> frame = pd.DataFrame({"income": [30.0, 50.0, np.nan, 40.0], "region": ["n", "s", "n", None]})
>>> profile = profile_frame(frame, sample_size=2)
>>> income = profile.columns["income"]
>>> income.count, income.missing, income.mean, income.sample.size
(3, 1, 40.0, 2)
>>> profile.columns["region"].counts, profile.columns["region"].missing
({'n': 2, 's': 1}, 1)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict, Unpack, get_args

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow has no type stubs
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from prodml.data.documents import reading
from prodml.data.sources import FILE_SUFFIXES
from prodml.errors import DataError, did_you_mean, listing

#: The version of :meth:`Profile.to_dict`'s layout; :meth:`Profile.from_dict` reads up to it.
FORMAT_VERSION = 1
#: The confidence histogram's bins: this many, equal, over [0, 1] (the last one closed).
CONFIDENCE_BINS = 20

Kind = Literal["numeric", "datetime", "boolean", "categorical"]
_FAMILY: dict[Kind, str] = {
    "numeric": "numeric",
    "datetime": "datetime",
    "boolean": "categorical",  # a CSV chunk with a missing value reads True/False as text
    "categorical": "categorical",
}


class ProfileOptions(TypedDict, total=False):
    """The options of :class:`ProfileBuilder`, also taken by :func:`profile_frame`."""

    sample_size: int
    max_categories: int
    seed: int


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class NumericProfile:
    """A numeric or datetime column (datetimes in seconds since 1970-01-01 UTC)."""

    kind: Literal["numeric", "datetime"]
    count: int  # values present
    missing: int
    min: float  # an int for an integer column; nan when no value is present
    max: float
    mean: float
    std: float  # ddof=1; nan below two values
    sample: np.ndarray  # float64, read-only: the values at the sampled rows, nan where missing

    def to_dict(self) -> dict[str, Any]:
        numbers = {name: _json_number(getattr(self, name)) for name in _MOMENTS}
        head = {"kind": self.kind, "count": self.count, "missing": self.missing}
        return head | numbers | {"sample": _json_numbers(self.sample)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> NumericProfile:
        numbers = {name: math.nan if raw[name] is None else raw[name] for name in _MOMENTS}
        sample = _frozen(np.array(raw["sample"], dtype=np.float64))
        return cls(raw["kind"], raw["count"], raw["missing"], **numbers, sample=sample)


_MOMENTS = ("min", "max", "mean", "std")


@dataclass(frozen=True)
class CategoricalProfile:
    """A categorical, text or boolean column: exact counts of its first values."""

    kind: Literal["boolean", "categorical"]
    missing: int
    counts: dict[str, int]  # value as text -> rows; most frequent first
    other: int  # rows whose value came after max_categories values were already counted
    capped: bool  # whether any value was left out of counts

    @property
    def count(self) -> int:
        """Rows with a value (any value, counted or not)."""
        return sum(self.counts.values()) + self.other

    def shares(self) -> dict[str, float]:
        """Each counted value's share of the rows that have a value."""
        return {value: n / self.count for value, n in self.counts.items()}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CategoricalProfile:
        return cls(**{**raw, "counts": dict(raw["counts"])})


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True, eq=False)
class OutputProfile:
    """The model's outputs on the profiled rows; ``None`` where they were not given."""

    predicted: ColumnProfile | None  # classes: categorical; regression values: numeric
    confidence: NumericProfile | None
    confidence_histogram: tuple[int, ...] | None  # CONFIDENCE_BINS counts over [0, 1]

    def to_dict(self) -> dict[str, Any]:
        histogram = self.confidence_histogram
        return {
            "predicted": None if self.predicted is None else self.predicted.to_dict(),
            "confidence": None if self.confidence is None else self.confidence.to_dict(),
            "confidence_histogram": None if histogram is None else list(histogram),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> OutputProfile:
        predicted, confidence = raw["predicted"], raw["confidence"]
        histogram = raw["confidence_histogram"]
        return cls(
            None if predicted is None else _column_from_dict(predicted),
            None if confidence is None else NumericProfile.from_dict(confidence),
            None if histogram is None else tuple(histogram),
        )


@dataclass(frozen=True, eq=False)
class Profile:
    """The reference profile of a data set, and of a model's outputs on it."""

    rows: int
    columns: dict[str, ColumnProfile]
    outputs: OutputProfile | None
    sample_size: int  # the sample holds min(sample_size, rows) rows
    seed: int
    max_categories: int

    def sample(self, column: str) -> np.ndarray:
        """The sampled values of a numeric or datetime column; the same rows for every column.

        >>> profile_frame(pd.DataFrame({"x": [1, 2, 3]}), sample_size=2, seed=1).sample("x")
        array([1., 3.])
        """
        found = self.columns.get(column)
        if isinstance(found, NumericProfile):
            return found.sample
        numeric = [name for name, c in self.columns.items() if isinstance(c, NumericProfile)]
        what = "not a column of the profile" if found is None else f"a {found.kind} column"
        raise DataError(
            f"'{column}' is {what}, so it has no sample (categories are counted exactly, in "
            f".counts); columns with a sample are: {listing(numeric) or '(none)'}"
            f"{did_you_mean(column, numeric)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dicts, lists, str, int, float, bool, None (for nan and inf)."""
        return {
            "format_version": FORMAT_VERSION,
            "rows": self.rows,
            "sample_size": self.sample_size,
            "seed": self.seed,
            "max_categories": self.max_categories,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
            "outputs": None if self.outputs is None else self.outputs.to_dict(),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Profile:
        """The profile :meth:`to_dict` gave (infinities come back as nan)."""
        with reading("profile", raw, FORMAT_VERSION, "Profile.to_dict()"):
            outputs = raw["outputs"]
            return cls(
                raw["rows"],
                {name: _column_from_dict(column) for name, column in raw["columns"].items()},
                None if outputs is None else OutputProfile.from_dict(outputs),
                raw["sample_size"],
                raw["seed"],
                raw["max_categories"],
            )


class ProfileBuilder:
    """Feed it chunks of rows (and the model's outputs on them), then :meth:`finish`.

    Memory stays bounded by the sample (``sample_size`` rows) and the category counts
    (``max_categories`` values per column), whatever the number of rows. A builder that
    raised :class:`DataError` in :meth:`update` may hold part of that chunk: start again.

    Builders of consecutive parts of the rows (each told its ``first_row``) :meth:`merge`
    into the builder of all of them: the same profile as one builder fed every row, the
    means and deviations up to rounding, and the same categories named unless a column
    has more than ``max_categories`` values.

    >>> builder = ProfileBuilder(["x"], sample_size=3)
    >>> for chunk in (pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": [3.0, 6.0]})):
    ...     builder.update(chunk, predicted=np.array(["a", "b"]), confidence=np.array([0.9, 0.6]))
    >>> profile = builder.finish()
    >>> profile.rows, profile.columns["x"].mean, profile.outputs.predicted.counts
    (4, 3.0, {'a': 2, 'b': 2})
    """

    def __init__(
        self,
        columns: Sequence[str],
        *,
        sample_size: int = 10_000,
        max_categories: int = 1000,
        seed: int = 0,
        first_row: int = 0,
    ) -> None:
        for name, value in (("sample_size", sample_size), ("max_categories", max_categories)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1; got {value}")
        repeated = sorted({c for c in columns if list(columns).count(c) > 1})
        if repeated:
            raise DataError(f"columns {listing(repeated)} are named more than once; name each once")
        self._columns = {name: _Column(name, max_categories) for name in columns}
        self._predicted = _Column("predicted", max_categories)
        self._confidence = _Column("confidence", max_categories)
        self._histogram = np.zeros(CONFIDENCE_BINS, dtype=np.int64)
        # one sample column per feature, then the predicted value and the confidence
        self._sampler = _Sampler(sample_size, seed, len(self._columns) + 2, first_row)
        self._options = (sample_size, seed, max_categories)
        self._first = self._rows = first_row
        self._given: tuple[bool, bool] | None = None  # (predicted, confidence), fixed at first

    def update(
        self,
        chunk: pd.DataFrame,
        *,
        predicted: np.ndarray | None = None,
        confidence: np.ndarray | None = None,
    ) -> None:
        """Add a chunk of rows, with one predicted value and one confidence per row if given.

        Float predictions are regression values; any other type is a class label.
        """
        where = f"{self._rows}..{self._rows + len(chunk) - 1}"
        absent = [name for name in self._columns if name not in chunk.columns]
        if absent:
            present = [str(c) for c in chunk.columns]
            raise DataError(
                f"column {listing(absent)} is not in rows {where}; columns are: "
                f"{listing(present)}{did_you_mean(absent[0], present)}"
            )
        given = (predicted is not None, confidence is not None)
        if self._given is not None and given != self._given:
            raise DataError(
                f"rows {where} come with {_outputs(given)}, the rows before them with "
                f"{_outputs(self._given)}; give the same outputs with every chunk"
            )
        self._given = given
        labels = _output("predicted", predicted, len(chunk), where)
        scores = _output("confidence", confidence, len(chunk), where)
        if scores is not None:
            scores = _confidences(scores, where)
        values = [column.add(chunk[name], self._rows) for name, column in self._columns.items()]
        if labels is None:
            values.append(None)
        else:  # float predictions are regression values, the rest class labels
            values.append(self._predicted.add(labels, self._rows, classes=labels.dtype.kind != "f"))
        values.append(None if scores is None else self._confidence.add(scores, self._rows))
        if values[-1] is not None:
            present = values[-1][~np.isnan(values[-1])]
            self._histogram += np.histogram(present, bins=CONFIDENCE_BINS, range=(0.0, 1.0))[0]
        self._sampler.add(self._rows, len(chunk), values)
        self._rows += len(chunk)

    def merge(self, later: ProfileBuilder) -> ProfileBuilder:
        """This builder, now also holding the rows of ``later``, whose first row is the one
        after this builder's last.

        >>> head = ProfileBuilder(["x"], sample_size=2)
        >>> head.update(pd.DataFrame({"x": [1.0, 2.0]}))
        >>> tail = ProfileBuilder(["x"], sample_size=2, first_row=2)
        >>> tail.update(pd.DataFrame({"x": [3.0, 6.0]}))
        >>> head.merge(tail).finish().columns["x"].mean
        3.0
        """
        if later._first != self._rows or later._options != self._options:
            raise ValueError(
                f"a builder of rows {later._first}.. with options {later._options} does not "
                f"follow rows {self._first}..{self._rows - 1} with options {self._options}; "
                "merge the builders of consecutive parts, made with the same options"
            )
        if list(later._columns) != list(self._columns):
            raise ValueError(f"columns {list(later._columns)} differ from {list(self._columns)}")
        given = self._given if later._given is None else later._given
        if self._given is not None and later._given is not None and later._given != given:
            raise DataError(
                f"rows {later._first}.. come with {_outputs(later._given)}, the rows before "
                f"them with {_outputs(self._given)}; give the same outputs with every chunk"
            )
        self._given = given
        pairs = [*zip(self._columns.values(), later._columns.values(), strict=True)]
        pairs += [(self._predicted, later._predicted), (self._confidence, later._confidence)]
        for column, other in pairs:
            column.merge(other, later._first)
        self._histogram += later._histogram
        self._sampler.merge(later._sampler)
        self._rows = later._rows
        return self

    def finish(self) -> Profile:
        """The profile of every row given so far."""
        if self._rows == self._first:
            raise DataError("there are no rows to profile; give at least one non-empty chunk")
        sample = self._sampler.values()
        columns = {
            name: column.finish(sample[:, i])
            for i, (name, column) in enumerate(self._columns.items())
        }
        outputs = None
        if self._given is not None and any(self._given):
            with_predicted, with_confidence = self._given
            outputs = OutputProfile(
                self._predicted.finish(sample[:, -2]) if with_predicted else None,
                self._confidence.numeric(sample[:, -1]) if with_confidence else None,
                tuple(int(n) for n in self._histogram) if with_confidence else None,
            )
        sample_size, seed, max_categories = self._options
        rows = self._rows - self._first
        return Profile(rows, columns, outputs, sample_size, seed, max_categories)


def profile_frame(
    frame: pd.DataFrame, columns: Sequence[str] | None = None, **options: Unpack[ProfileOptions]
) -> Profile:
    """The profile of one data frame (of ``columns``, by default all of them)."""
    return profile_chunks([frame], columns, **options)


def profile_chunks(
    chunks: Iterable[pd.DataFrame],
    columns: Sequence[str] | None = None,
    **options: Unpack[ProfileOptions],
) -> Profile:
    """The profile of chunks of rows, e.g. :func:`read_chunks`; columns default to the first's.

    >>> chunks = (pd.DataFrame({"x": [i, i + 1]}) for i in range(0, 6, 2))
    >>> profile_chunks(chunks).columns["x"].max
    5
    """
    builder = None
    for chunk in chunks:
        if builder is None:
            names = [str(c) for c in chunk.columns] if columns is None else columns
            builder = ProfileBuilder(names, **options)
        builder.update(chunk)
        del chunk  # not to hold two chunks while the next one is read
    if builder is None:
        raise DataError("there are no rows to profile: no chunk was given")
    return builder.finish()


def profile_file(
    path: Path,
    chunk_rows: int = 100_000,
    columns: Sequence[str] | None = None,
    **options: Unpack[ProfileOptions],
) -> Profile:
    """The profile of a Parquet or CSV file, read ``chunk_rows`` rows at a time: memory
    holds one chunk and the builder's bounded state, whatever the file's size."""
    return profile_chunks(read_chunks(path, chunk_rows, columns), columns, **options)


def read_chunks(
    path: Path, chunk_rows: int = 1_000_000, columns: Sequence[str] | None = None
) -> Iterator[pd.DataFrame]:
    """The rows of a Parquet or CSV file, at most ``chunk_rows`` at a time.

    The file and the columns are checked here, before the first chunk is read. Columns
    come in the file's order. A Parquet chunk never spans two row groups. CSV has no
    types: a column is read as text unless every value in a chunk is a number, so
    datetimes are text.
    """
    path = Path(path)
    name = path.name.lower()
    if not name.endswith(FILE_SUFFIXES):
        raise DataError(
            f"'{path}' is neither Parquet nor CSV; read files ending in {listing(FILE_SUFFIXES)}"
        )
    parquet, separator = name.endswith((".parquet", ".pq")), "\t" if name.endswith(".tsv") else ","
    try:
        if parquet:
            names = pq.read_schema(path).names
        else:
            names = [str(c) for c in pd.read_csv(path, sep=separator, nrows=0).columns]
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"'{path}' cannot be read: {exc}") from None
    absent = [c for c in columns or () if c not in names]
    if absent:
        raise DataError(
            f"column {listing(absent)} is not in '{path}'; its columns are: "
            f"{listing(names)}{did_you_mean(absent[0], names)}"
        )
    wanted = [c for c in names if columns is None or c in columns]  # as read_csv: file order
    return _chunks(path, parquet, separator, chunk_rows, wanted)


def _chunks(
    path: Path, parquet: bool, separator: str, chunk_rows: int, columns: list[str]
) -> Iterator[pd.DataFrame]:
    """The chunks; the file is opened at the first and closed after the last."""
    try:
        if parquet:
            with pq.ParquetFile(path) as file:
                # a reader per row group: one over the whole file reads ahead and holds more
                for group in range(file.num_row_groups):
                    reader = file.iter_batches(chunk_rows, row_groups=[group], columns=columns)
                    for batch in reader:
                        table = pa.Table.from_batches([batch])
                        del batch  # so that each column's Arrow memory goes once pandas has it
                        yield table.to_pandas(self_destruct=True, split_blocks=True)
        else:
            with pd.read_csv(path, sep=separator, chunksize=chunk_rows, usecols=columns) as reader:
                yield from reader
    except (OSError, ValueError) as exc:
        raise DataError(f"'{path}' cannot be read: {exc}") from None


class _Moments:
    """Count, mean, sum of squared deviations, min and max, merged chunk by chunk."""

    def __init__(self) -> None:
        self.count, self.mean, self.squares = 0, 0.0, 0.0
        self.low: float = math.nan
        self.high: float = math.nan

    def add(self, values: np.ndarray, low: float, high: float) -> None:
        chunk = _Moments()
        with np.errstate(invalid="ignore", over="ignore"):  # infinities give nan, as in numpy
            chunk.mean = float(np.mean(values))
            chunk.squares = float(np.sum(np.square(values - chunk.mean)))
        chunk.count, chunk.low, chunk.high = values.size, low, high
        self.merge(chunk)

    def merge(self, other: _Moments) -> None:
        if other.count == 0:
            return
        if self.count == 0:
            self.count, self.mean, self.squares = other.count, other.mean, other.squares
            self.low, self.high = other.low, other.high
            return
        # Chan, Golub & LeVeque (1979): exact merge of two groups' means and squared deviations
        n, total, delta = other.count, self.count + other.count, other.mean - self.mean
        self.mean += delta * n / total
        self.squares += other.squares + delta * delta * self.count * n / total
        self.count = total
        self.low, self.high = min(self.low, other.low), max(self.high, other.high)


class _Counts:
    """Exact counts of the first ``cap`` distinct values; later new values go to ``other``."""

    def __init__(self, cap: int) -> None:
        self.cap, self.counts, self.other, self.capped = cap, dict[str, int](), 0, False

    def add(self, series: pd.Series) -> None:
        tally = series.value_counts()  # most frequent first, missing values left out
        tally = tally[tally > 0]  # a categorical dtype lists its unused categories too
        self.tally(tally.index.astype(str), tally.to_numpy(dtype=np.int64))

    def merge(self, other: _Counts) -> None:
        self.tally(pd.Index(list(other.counts), dtype=object), np.array([*other.counts.values()]))
        self.other += other.other
        self.capped = self.capped or other.capped

    def tally(self, keys: pd.Index, numbers: np.ndarray) -> None:
        known = keys.isin(list(self.counts))  # vectorized: a chunk may hold millions of values
        for key, n in zip(keys[known].tolist(), numbers[known].tolist(), strict=True):
            self.counts[key] += n
        new_keys, new_numbers = keys[~known], numbers[~known]
        room = max(self.cap - len(self.counts), 0)
        for key, n in zip(new_keys[:room].tolist(), new_numbers[:room].tolist(), strict=True):
            self.counts[key] = self.counts.get(key, 0) + n  # 1 and "1" share a key
        if len(new_keys) > room:
            self.other += int(new_numbers[room:].sum())
            self.capped = True


class _Column:
    """One column's statistics; its kind comes from the first chunk that has a value."""

    def __init__(self, name: str, max_categories: int) -> None:
        self.name = name
        self.kind: Kind | None = None
        self.first: Kind | None = None  # the first chunk's kind, for a column with no value
        self.missing = 0
        self.moments = _Moments()
        self.counts = _Counts(max_categories)

    def add(self, series: pd.Series, start: int, *, classes: bool = False) -> np.ndarray | None:
        """Count the chunk; return its values as float64 for the sample (None: categorical)."""
        kind = "categorical" if classes else _kind(series)
        self.first = self.first or kind
        absent = series.isna().to_numpy()
        missing = int(absent.sum())
        self.missing += missing
        if missing == len(series):
            return None
        if self.kind is not None and _FAMILY[self.kind] != _FAMILY[kind]:
            raise DataError(
                f"column '{self.name}' holds {self.kind} values in the rows before {start} but "
                f"{kind} values ({series.dtype}) in rows {start}..{start + len(series) - 1}; "
                "give it one type in every row, e.g. convert it before profiling"
            )
        self.kind = kind if self.kind in (None, "boolean") else self.kind
        if _FAMILY[kind] == "categorical":
            self.counts.add(series)
            return None
        values = _floats(series, kind)
        present = values[~absent] if missing else values
        if series.dtype.kind in "iu":  # min and max from the integers, exact beyond 2**53
            self.moments.add(present, int(series.min()), int(series.max()))
        else:
            self.moments.add(present, float(present.min()), float(present.max()))
        return values

    def merge(self, later: _Column, start: int) -> None:
        """Take in the statistics of the rows from ``start`` on."""
        self.first = self.first or later.first
        self.missing += later.missing
        if later.kind is None:
            return
        if self.kind is not None and _FAMILY[self.kind] != _FAMILY[later.kind]:
            raise DataError(
                f"column '{self.name}' holds {self.kind} values in the rows before {start} but "
                f"{later.kind} values from row {start} on; give it one type in every row, "
                "e.g. convert it before profiling"
            )
        self.kind = later.kind if self.kind in (None, "boolean") else self.kind
        self.moments.merge(later.moments)
        self.counts.merge(later.counts)

    def finish(self, sample: np.ndarray) -> ColumnProfile:
        kind = self.kind or self.first
        if kind == "boolean" or kind == "categorical":
            counts = sorted(self.counts.counts.items(), key=lambda item: (-item[1], item[0]))
            return CategoricalProfile(
                kind, self.missing, dict(counts), self.counts.other, self.counts.capped
            )
        return self.numeric(sample)

    def numeric(self, sample: np.ndarray) -> NumericProfile:
        m = self.moments
        std = math.sqrt(m.squares / (m.count - 1)) if m.count > 1 else math.nan
        mean = m.mean if m.count else math.nan
        datetime = (self.kind or self.first) == "datetime"
        kind: Literal["numeric", "datetime"] = "datetime" if datetime else "numeric"
        return NumericProfile(
            kind, m.count, self.missing, m.low, m.high, mean, std, _frozen(sample.copy())
        )


class _Sampler:
    """Bottom-k priority sampling: each row draws a uniform key; the k smallest keys stay.

    Keys come from one generator in row order, so a row's key does not depend on how the
    rows are cut into chunks; ties are broken by row number, so neither does the sample.
    """

    def __init__(self, size: int, seed: int, width: int, first_row: int = 0) -> None:
        self.size, self.width = size, width
        # np.random.default_rng(seed), moved on by a step per row before ``first_row`` (a
        # key takes one step): a part draws the keys one pass over all rows would
        self.generator = np.random.Generator(np.random.PCG64(seed).advance(first_row))
        self.keys = np.empty(0, dtype=np.float64)
        self.rows = np.empty(0, dtype=np.int64)
        self.block = np.empty((0, width), dtype=np.float64)

    def add(self, start: int, n: int, columns: Sequence[np.ndarray | None]) -> None:
        keys = self.generator.random(n)
        if n > self.size:  # only the chunk's k smallest keys (and ties) can enter the sample
            pick = np.flatnonzero(keys <= np.partition(keys, self.size - 1)[self.size - 1])
        else:
            pick = np.arange(n)
        if self.keys.size == self.size:
            pick = pick[keys[pick] <= self.keys.max()]
        if pick.size == 0:
            return
        block = np.full((pick.size, self.width), np.nan)
        for i, values in enumerate(columns):
            if values is not None:
                block[:, i] = values[pick]
        self.keep(keys[pick], start + pick, block)

    def merge(self, later: _Sampler) -> None:
        self.keep(later.keys, later.rows, later.block)
        self.generator = later.generator  # where the rows after ``later``'s take their keys

    def keep(self, keys: np.ndarray, rows: np.ndarray, block: np.ndarray) -> None:
        """Add rows to the sample, then keep those of the ``size`` smallest keys."""
        keys = np.concatenate([self.keys, keys])
        rows = np.concatenate([self.rows, rows])
        keep = np.lexsort((rows, keys))[: self.size]
        self.keys, self.rows = keys[keep], rows[keep]
        self.block = np.concatenate([self.block, block])[keep]

    def values(self) -> np.ndarray:
        """The sampled rows' values, one column per feature, the rows in their first order."""
        return self.block[np.argsort(self.rows)]


def _kind(series: pd.Series) -> Kind:
    if is_bool_dtype(series.dtype):
        return "boolean"
    if is_datetime64_any_dtype(series.dtype):
        return "datetime"
    return "numeric" if is_numeric_dtype(series.dtype) else "categorical"


def _floats(series: pd.Series, kind: Kind) -> np.ndarray:
    if kind == "datetime":
        epoch = pd.Timestamp("1970-01-01", tz=series.dt.tz)
        series = (series - epoch) / pd.Timedelta(seconds=1)
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _output(name: str, values: np.ndarray | None, rows: int, where: str) -> pd.Series | None:
    """One output value per row, as a series."""
    if values is None:
        return None
    array = np.asarray(values)
    if array.shape != (rows,):
        raise DataError(
            f"{name} has shape {array.shape} for rows {where}; give one value per row, "
            f"shape ({rows},)"
        )
    return pd.Series(array)


def _confidences(scores: pd.Series, where: str) -> pd.Series:
    values = scores.to_numpy(dtype=np.float64, na_value=np.nan)
    outside = values[(values < 0) | (values > 1)]
    if outside.size:
        raise DataError(
            f"confidence {outside[0]} in rows {where} is outside [0, 1]; give each row's "
            "largest class probability"
        )
    return pd.Series(values)


def _outputs(given: tuple[bool, bool]) -> str:
    names = [n for n, g in zip(("predicted", "confidence"), given, strict=True) if g]
    return " and ".join(names) or "no outputs"


def _column_from_dict(raw: Mapping[str, Any]) -> ColumnProfile:
    if raw["kind"] in ("numeric", "datetime"):
        return NumericProfile.from_dict(raw)
    if raw["kind"] in ("boolean", "categorical"):
        return CategoricalProfile.from_dict(raw)
    raise ValueError(f"kind {raw['kind']!r} is not one of: {listing(get_args(Kind))}")


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _json_numbers(values: np.ndarray) -> list[float | None]:
    listed: list[float | None] = values.tolist()
    if not np.isfinite(values).all():
        listed = [v if math.isfinite(v) else None for v in values.tolist()]
    return listed


def _frozen(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values
