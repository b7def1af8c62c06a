"""Every data source, through the same checks: same rows in, same data out."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris

from prodml.config import SqlSource
from prodml.data.fingerprint import fingerprint
from prodml.data.sources import BUNDLED, DataSource, open_source
from prodml.errors import DataError


def iris() -> pd.DataFrame:
    frame: pd.DataFrame = load_iris(as_frame=True).frame
    frame["target"] = pd.Series(load_iris().target_names[frame["target"]], dtype="str")
    return frame


def csv_source(root: Path) -> DataSource:
    iris().to_csv(root / "iris.csv", index=False)
    return open_source("iris.csv", root)


def parquet_source(root: Path) -> DataSource:
    iris().to_parquet(root / "iris.parquet", index=False)
    return open_source("iris.parquet", root)


def sql_source(root: Path) -> DataSource:
    with sqlite3.connect(root / "iris.db") as connection:
        iris().to_sql("iris", connection, index=False)
    connection.close()
    return open_source(SqlSource(sql="select * from iris", url="sqlite:///iris.db"), root)


def callable_source(root: Path) -> DataSource:
    (root / "irisdata.py").write_text(
        "import pandas as pd\nfrom sklearn.datasets import load_iris\n\n"
        "def load():\n"
        "    frame = load_iris(as_frame=True).frame\n"
        "    frame['target'] = pd.Series(load_iris().target_names[frame['target']], dtype='str')\n"
        "    return frame\n"
    )
    return open_source("irisdata:load", root)


def bundled_source(root: Path) -> DataSource:
    return open_source("bundled:iris", root)


SOURCES: dict[str, Callable[[Path], DataSource]] = {
    "csv": csv_source,
    "parquet": parquet_source,
    "sql": sql_source,
    "callable": callable_source,
    "bundled": bundled_source,
}


@pytest.mark.parametrize("make", SOURCES.values(), ids=list(SOURCES))
def test_every_source_loads_the_same_rows(
    tmp_path: Path, make: Callable[[Path], DataSource]
) -> None:
    source = make(tmp_path)
    frame = source.load()
    expected = iris()
    assert list(frame.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(
        frame.astype({"target": "str"}), expected, check_dtype=False, check_exact=False
    )
    assert source.describe()


@pytest.mark.parametrize("make", SOURCES.values(), ids=list(SOURCES))
def test_every_source_gives_a_stable_fingerprint(
    tmp_path: Path, make: Callable[[Path], DataSource]
) -> None:
    source = make(tmp_path)
    assert fingerprint(source.load()) == fingerprint(source.load())


def test_csv_and_parquet_of_the_same_data_share_a_fingerprint(tmp_path: Path) -> None:
    assert fingerprint(csv_source(tmp_path).load()) == fingerprint(parquet_source(tmp_path).load())


def test_fingerprint_changes_with_one_value(tmp_path: Path) -> None:
    frame = iris()
    changed = frame.copy()
    changed["sepal length (cm)"] = changed["sepal length (cm)"].where(changed.index != 17, 9.9)
    assert fingerprint(frame) != fingerprint(changed)
    assert fingerprint(frame) != fingerprint(frame.rename(columns={"target": "label"}))


def test_every_bundled_set_loads_without_download() -> None:
    for name in BUNDLED:
        frame = open_source(f"bundled:{name}", Path(".")).load()
        assert (len(frame) > 100 and "target" in frame.columns) or "approved" in frame.columns


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("missing.csv", r"^data.source 'missing.csv' does not exist \(looked for .*missing.csv\)"),
        (
            "bundled:irsi",
            r"^data.source 'bundled:irsi' is not a bundled data set; .*did you mean 'iris'\?$",
        ),
        ("nosuchmodule:load", r"cannot import module 'nosuchmodule'"),
        ("data.xlsx", r"^data.source 'data.xlsx' is not a known kind of source"),
    ],
)
def test_bad_sources_say_what_is_wrong(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        open_source(source, tmp_path).load()


def test_callable_must_exist_and_return_a_frame(tmp_path: Path) -> None:
    (tmp_path / "loaders.py").write_text("def rows():\n    return [1, 2]\n")
    with pytest.raises(DataError, match=r"has no function 'row'; did you mean 'rows'\?"):
        open_source("loaders:row", tmp_path).load()
    with pytest.raises(DataError, match=r"returned a list; it must return a pandas DataFrame"):
        open_source("loaders:rows", tmp_path).load()


def test_failing_query_names_the_query(tmp_path: Path) -> None:
    sql_source(tmp_path)
    source = open_source(SqlSource(sql="select * from irsi", url="sqlite:///iris.db"), tmp_path)
    with pytest.raises(DataError, match=r"data.source.sql failed: no such table: irsi"):
        source.load()


def test_sql_source_reads_postgresql(postgres_url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            iris().to_sql("iris_source_test", connection, index=False, if_exists="replace")
    finally:
        engine.dispose()
    source = open_source(
        SqlSource(sql="select * from iris_source_test", url=postgres_url), Path(".")
    )
    frame = source.load()
    assert len(frame) == 150 and "postgres" not in source.describe().split("@")[0]
