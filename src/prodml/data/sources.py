"""Data sources: where a project's rows come from.

Every source has the same two verbs, ``describe()`` and ``load()``; :func:`open_source`
picks one from ``data.source`` in the project file:

- a file: ``data/loans.parquet``, ``data/loans.csv`` (also ``.csv.gz``, ``.tsv``);
- a data set bundled with prodml or scikit-learn: ``bundled:breast_cancer``;
- a Python function returning a data frame: ``mypackage.data:load`` (the project folder
  is importable, so ``mydata:load`` finds ``mydata.py`` beside ``prodml.yaml``);
- an SQL query: ``{sql: "select * from loans", url: "sqlite:///data/loans.db"}``.

>>> source = open_source("bundled:iris", Path("."))
>>> source.describe(), source.load().shape
('bundled:iris', (150, 5))
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from prodml import config
from prodml.errors import DataError, did_you_mean, listing

FILE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq")
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class DataSource(Protocol):
    """Where rows come from: one verb to name it, one to read it."""

    def describe(self) -> str: ...

    def load(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class FileSource:
    """A CSV or Parquet file, relative to the project folder."""

    path: Path
    shown: str
    key: str = "data.source"

    def describe(self) -> str:
        return self.shown

    def load(self) -> pd.DataFrame:
        if not self.path.exists():
            raise DataError(
                f"{self.key} '{self.shown}' does not exist (looked for {self.path}); fix the path"
            )
        try:
            if self.path.name.endswith((".parquet", ".pq")):
                return pd.read_parquet(self.path)
            separator = "\t" if self.path.suffix == ".tsv" else ","
            return pd.read_csv(self.path, sep=separator)
        except (OSError, ValueError) as exc:
            raise DataError(f"{self.key} '{self.shown}' cannot be read: {exc}") from None


@dataclass(frozen=True)
class BundledSource:
    """A data set that ships with prodml or scikit-learn; nothing is downloaded."""

    name: str

    def describe(self) -> str:
        return f"bundled:{self.name}"

    def load(self) -> pd.DataFrame:
        loader = BUNDLED.get(self.name)
        if loader is None:
            raise DataError(
                f"data.source 'bundled:{self.name}' is not a bundled data set; choose one of: "
                f"{listing(BUNDLED)}{did_you_mean(self.name, BUNDLED)}"
            )
        return loader()


@dataclass(frozen=True)
class CallableSource:
    """``module:function``, called with no arguments, returning a pandas DataFrame."""

    reference: str
    root: Path

    def describe(self) -> str:
        return self.reference

    def load(self) -> pd.DataFrame:
        module_name, function_name = self.reference.split(":")
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise DataError(
                f"data.source '{self.reference}': cannot import module '{module_name}' ({exc}); "
                "put it beside prodml.yaml or install it"
            ) from None
        function = getattr(module, function_name, None)
        if not callable(function):
            names = [n for n in dir(module) if not n.startswith("_")]
            raise DataError(
                f"data.source '{self.reference}': module '{module_name}' has no function "
                f"'{function_name}'{did_you_mean(function_name, names)}"
            )
        frame = function()
        if not isinstance(frame, pd.DataFrame):
            raise DataError(
                f"data.source '{self.reference}' returned a {type(frame).__name__}; "
                "it must return a pandas DataFrame"
            )
        return frame


@dataclass(frozen=True)
class SqlQuerySource:
    """The rows of an SQL query over any SQLAlchemy URL."""

    sql: str
    url: str

    def describe(self) -> str:
        return f"sql: {self.sql} @ {_hide_password(self.url)}"

    def load(self) -> pd.DataFrame:
        from sqlalchemy import create_engine
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

        try:
            engine = create_engine(self.url)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise DataError(
                f"data.source.url '{_hide_password(self.url)}' is not a usable SQLAlchemy URL "
                f"({exc}); e.g. sqlite:///data/loans.db or postgresql+psycopg://user@host/db"
            ) from None
        try:
            with engine.connect() as connection:
                return pd.read_sql_query(self.sql, connection)
        except (SQLAlchemyError, pd.errors.DatabaseError) as exc:
            cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) else exc
            reason = str(getattr(cause, "orig", None) or cause).splitlines()[0]
            raise DataError(f"data.source.sql failed: {reason}; query: {self.sql}") from None
        finally:
            engine.dispose()


def open_source(source: str | config.SqlSource, root: Path) -> DataSource:
    """The data source that ``data.source`` names, relative to the project folder ``root``."""
    if isinstance(source, config.SqlSource):
        return SqlQuerySource(source.sql, _relative_sqlite(source.url, root))
    if source.startswith("bundled:"):
        return BundledSource(source.removeprefix("bundled:"))
    if source.lower().endswith(FILE_SUFFIXES):
        return FileSource(root / source, source)
    if _CALLABLE.match(source):
        return CallableSource(source, root)
    raise DataError(
        f"data.source '{source}' is not a known kind of source; use a file ending in "
        f"{listing(FILE_SUFFIXES)}, bundled:NAME ({listing(BUNDLED)}), module:function, "
        "or {sql: ..., url: ...}"
    )


def _relative_sqlite(url: str, root: Path) -> str:
    """Read ``sqlite:///data/x.db`` relative to the project folder, as a user expects."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        return prefix + str(root / url.removeprefix(prefix))
    return url


def _hide_password(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]+@", r"://\1:***@", url)


def _sklearn(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        frame: pd.DataFrame = bunch.frame.copy()
        names = getattr(bunch, "target_names", None)
        if names is not None and names.dtype.kind in "US":  # name the labels ("malignant")
            frame["target"] = pd.Series(names[frame["target"].to_numpy()], dtype="str")
        return frame

    return load


def _loans() -> pd.DataFrame:
    from prodml.data.loans import generate_loans

    return generate_loans()


BUNDLED: dict[str, Callable[[], pd.DataFrame]] = {
    "breast_cancer": _sklearn("breast_cancer"),
    "diabetes": _sklearn("diabetes"),
    "digits": _sklearn("digits"),
    "iris": _sklearn("iris"),
    "loans": _loans,
    "wine": _sklearn("wine"),
}
