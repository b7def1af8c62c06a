"""Checked rows become the one pandas DataFrame a batch is predicted on.

Building a frame costs about a hundred microseconds however few its rows, so the server
builds one a batch, never one a request. The frame has the schema's columns in training
order with the training dtypes; a category column gets the training categories, so
models that split on pandas categories (HistGradientBoosting with
``categorical_features="from_dtype"``) see what they saw in training. A frame of numbers
only is made from one 2-D array, which pandas keeps as one block.

>>> from prodml.data.schema import infer_schema
>>> train = pd.DataFrame({"income": [30e3, 75e3], "region": pd.Categorical(["n", "s"])})
>>> frame = FrameBuilder(infer_schema(train))([(41000, "s"), (52000.5, "n")])
>>> frame.dtypes.astype(str).tolist(), frame["region"].cat.categories.tolist()
(['float64', 'category'], ['n', 's'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from prodml.data.schema import ColumnSchema, Schema
from prodml.serve.validation import FloatRows

Converter = Callable[[Sequence[Any]], Any]


class FrameBuilder:
    """Rows (tuples in schema order) to a DataFrame in the training column order and dtypes."""

    def __init__(self, schema: Schema) -> None:
        self.names = [c.name for c in schema.columns]
        #: every column is float64, so a row is a list of numbers
        self.numbers_only = all(c.kind == "number" and c.dtype == "float64" for c in schema.columns)
        self._converters = [_converter(c) for c in schema.columns]

    def __call__(self, rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
        if self.numbers_only:
            return pd.DataFrame(matrix(rows), columns=self.names, copy=False)
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in self.names]
        arrays = {
            name: convert(values)
            for name, convert, values in zip(self.names, self._converters, columns, strict=True)
        }
        return pd.DataFrame(arrays, copy=False)


def matrix(rows: Sequence[Sequence[Any]]) -> np.ndarray:
    """Rows of numbers as a new float64 matrix, the model's own to change: a copy of the
    check's matrix when the rows are :class:`~prodml.serve.validation.FloatRows` (a
    memory copy, where converting each Python float again took a hundred times longer).

    >>> matrix([(1.0, 2.0), (3, 4.5)]).tolist()
    [[1.0, 2.0], [3.0, 4.5]]
    """
    if type(rows) is FloatRows:
        return rows.matrix.copy()
    return np.array(rows, dtype=np.float64)


def _converter(column: ColumnSchema) -> Converter:
    dtype = column.dtype
    if column.kind in ("number", "integer", "boolean") and _is_numpy(dtype):
        numpy_dtype = np.dtype(dtype)
        return lambda values: np.array(values, dtype=numpy_dtype)
    if column.kind == "category" and dtype == "category" and column.categories is not None:
        return _categories(sorted(column.categories))
    if column.kind == "datetime":
        return lambda values: _typed(pd.to_datetime(list(values), format="ISO8601"), dtype)
    return lambda values: _typed(list(values), dtype)


def _categories(categories: list[str]) -> Converter:
    """Codes looked up in a dict: ten times faster than ``pd.Categorical(values, ...)``."""
    categorical = pd.CategoricalDtype(categories)
    code = {value: i for i, value in enumerate(categories)}

    def convert(values: Sequence[Any]) -> pd.Categorical:
        codes = np.array([code.get(v, -1) for v in values], dtype=np.int64)
        return pd.Categorical.from_codes(codes, dtype=categorical)

    return convert


def _is_numpy(dtype: str) -> bool:
    """Is ``dtype`` a numpy number or bool dtype ("float64", "int32", "bool")?"""
    try:
        return np.dtype(dtype).kind in "biuf"
    except TypeError:
        return False  # a pandas dtype: "Int64", "boolean", "category"


def _typed(values: Any, dtype: str) -> Any:
    """``values`` as a pandas array of the training dtype, or as they are if that fails."""
    try:
        return pd.array(values, dtype=dtype)
    except (TypeError, ValueError):
        return pd.array(values)
