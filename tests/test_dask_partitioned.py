"""A folder of Parquet parts, scored and profiled a part per task on two Dask workers:
the answers one process gives over the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dask.distributed import LocalCluster
from sklearn.ensemble import HistGradientBoostingClassifier

from prodml.batch import score_file
from prodml.config import ExecutorSettings
from prodml.data.profile import profile_frame
from prodml.data.schema import Schema, infer_schema
from prodml.errors import DataError
from prodml.partitioned import profile_parts, score_parts

FEATURES = ["income", "age", "region"]


@pytest.fixture(scope="module")
def dask() -> Iterator[ExecutorSettings]:
    with LocalCluster(2, processes=False, dashboard_address=":0") as cluster:  # type: ignore[no-untyped-call]
        yield ExecutorSettings(kind="dask", address=cluster.scheduler_address)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 6_000
    frame = pd.DataFrame(
        {
            "application_id": np.arange(n),
            "income": rng.gamma(4.0, 10_000.0, n),
            "age": rng.integers(18, 90, n),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "income"] = np.nan
    frame["approved"] = (frame["income"].fillna(0) / 1_000 + rng.normal(0, 10, n) > 40).astype(int)
    return frame


@pytest.fixture(scope="module")
def fitted(rows: pd.DataFrame) -> tuple[HistGradientBoostingClassifier, Schema]:
    X = rows[FEATURES].astype({"region": "category"})
    model = HistGradientBoostingClassifier(
        max_iter=10, categorical_features="from_dtype", random_state=0
    ).fit(X, rows["approved"])
    return model, infer_schema(rows[FEATURES])


@pytest.fixture(scope="module")
def folder(rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five parts of unequal sizes, one of them empty, each of two row groups."""
    parts = tmp_path_factory.mktemp("parts")
    for i, (start, end) in enumerate(
        [(0, 1_500), (1_500, 1_500), (1_500, 2_000), (2_000, 4_700), (4_700, 6_000)]
    ):
        rows.iloc[start:end].to_parquet(parts / f"part-{i}.parquet", row_group_size=800)
    return parts


def test_parts_scored_on_dask_equal_the_whole_file_in_one_process(
    rows: pd.DataFrame,
    fitted: tuple[HistGradientBoostingClassifier, Schema],
    folder: Path,
    dask: ExecutorSettings,
    tmp_path: Path,
) -> None:
    model, schema = fitted
    whole = tmp_path / "whole.parquet"
    rows.to_parquet(whole)
    one = score_file(model, schema, whole, tmp_path / "one.parquet", keep=("application_id",))
    seen: list[int] = []
    scored = score_file(
        model,
        schema,
        folder,
        tmp_path / "scored",
        keep=("application_id",),
        chunk_rows=500,
        on_chunk=seen.append,
        executor=dask,
    )
    assert scored.rows == len(rows) and seen[-1] == len(rows) and seen == sorted(seen)
    parts = sorted((tmp_path / "scored").iterdir())
    assert [p.name for p in parts] == [f"part-{i:05d}.parquet" for i in (0, 2, 3, 4)]
    together = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(together, pd.read_parquet(one.output))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.parquet", "scored", "whole.parquet"]


def test_a_failed_part_leaves_no_output_and_names_its_rows(
    rows: pd.DataFrame,
    fitted: tuple[HistGradientBoostingClassifier, Schema],
    folder: Path,
    dask: ExecutorSettings,
    tmp_path: Path,
) -> None:
    model, schema = fitted
    broken = tmp_path / "broken"
    broken.mkdir()
    for part in folder.iterdir():
        (broken / part.name).write_bytes(part.read_bytes())
    bad = rows.iloc[4_700:6_000].assign(region="atlantis")
    bad.to_parquet(broken / "part-4.parquet")
    with pytest.raises(DataError, match=r"rows 4700\.\.5999 of the input do not fit the model"):
        score_parts(model, schema, broken, tmp_path / "scored", executor=dask)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]


def test_an_empty_folder_says_what_to_give(
    fitted: tuple[HistGradientBoostingClassifier, Schema], tmp_path: Path
) -> None:
    model, schema = fitted
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"folder '.*empty' has no \.parquet part files; give"):
        score_parts(model, schema, tmp_path / "empty", tmp_path / "scored")


def test_parts_profiled_on_dask_and_merged_equal_one_pass(
    rows: pd.DataFrame, folder: Path, dask: ExecutorSettings
) -> None:
    columns = [*FEATURES, "approved"]
    one = profile_frame(rows, columns, sample_size=500, seed=4)
    merged = profile_parts(folder, columns, chunk_rows=300, executor=dask, sample_size=500, seed=4)
    assert merged.rows == one.rows == len(rows)
    for name in columns:
        got, expected = merged.columns[name].to_dict(), one.columns[name].to_dict()
        # the same rows sampled, the same counts; means and deviations up to rounding
        assert got.pop("sample", None) == expected.pop("sample", None), name
        moments = {k: expected.pop(k) for k in ("mean", "std") if k in expected}
        assert {k: got.pop(k) for k in moments} == pytest.approx(moments, rel=1e-12)
        assert got == expected, name
