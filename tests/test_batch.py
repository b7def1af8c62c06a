"""Batch scoring: a model over a file chunk by chunk, equal to one predict on all of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import prodml
from prodml.batch import score_file
from prodml.data.schema import Schema
from prodml.errors import DataError


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[prodml.Project, Schema]:
    folder = prodml.init(tmp_path_factory.mktemp("batch") / "bc", example="breast-cancer")
    project = prodml.Project(folder)
    run = project.fit()
    assert run.input_schema is not None
    return project, Schema.from_dict(run.input_schema)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunks_give_the_predictions_of_one_call(
    fitted: tuple[prodml.Project, Schema], tmp_path: Path, suffix: str
) -> None:
    project, schema = fitted
    source = project.path / "data" / "breast_cancer.csv"
    frame = pd.read_csv(source)
    seen: list[int] = []
    scored = score_file(
        project.load_model(),
        schema,
        source,
        tmp_path / f"out{suffix}",
        keep=("patient_id",),
        chunk_rows=100,
        on_chunk=seen.append,
    )
    out = pd.read_parquet(scored.output) if suffix == ".parquet" else pd.read_csv(scored.output)

    model = project.load_model()
    X = frame.drop(columns=["patient_id", "diagnosis"])
    assert scored.rows == len(frame) == 569 and seen == [100, 200, 300, 400, 500, 569]
    assert out["patient_id"].tolist() == frame["patient_id"].tolist()
    assert out["prediction"].tolist() == model.predict(X).tolist()
    np.testing.assert_allclose(
        out["probability[malignant]"], model.predict_proba(X)[:, 1], rtol=1e-12
    )
    assert list(tmp_path.iterdir()) == [scored.output]


def test_a_chunk_that_does_not_fit_the_model_fails_and_leaves_no_file(
    fitted: tuple[prodml.Project, Schema], tmp_path: Path
) -> None:
    project, schema = fitted
    frame = pd.read_csv(project.path / "data" / "breast_cancer.csv")
    frame["mean_radius"] = frame["mean_radius"].astype(object)
    frame.loc[250, "mean_radius"] = "big"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(
        DataError, match=r"rows 200\.\.299 of the input do not fit the model: .*mean_radius"
    ):
        score_file(
            project.load_model(), schema, tmp_path / "bad.csv", tmp_path / "out.csv", chunk_rows=100
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
