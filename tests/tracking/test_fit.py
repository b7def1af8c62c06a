"""A tracked fit records everything about the run, and a failed fit says so."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.metrics import accuracy_score, mean_absolute_error, r2_score

import prodml
from prodml.config import ModelSpec
from prodml.data.fingerprint import fingerprint
from prodml.data.profile import CategoricalProfile, NumericProfile, Profile
from prodml.data.schema import Schema, infer_schema
from prodml.data.split import DEV, TEST, TRAIN
from prodml.errors import ModelError
from prodml.store.datasets import Datasets


def test_fit_records_the_whole_run(project: prodml.Project) -> None:
    run = project.fit()
    assert run.status == "finished" and run.kind == "fit" and run.error is None
    assert run.ended_at is not None and run.started_at <= run.ended_at
    assert (run.code_commit, run.code_dirty) == (None, None)  # not a git repository
    frame = pd.read_csv(project.path / "data" / "breast_cancer.csv")
    assert run.data_source == "data/breast_cancer.csv"
    assert run.data_fingerprint == fingerprint(frame)
    assert run.data_rows == len(frame) == 569
    assert run.split is not None and sum(run.split["sizes"].values()) == 569
    assert run.params is not None and run.params["logisticregression__max_iter"] == 1000
    assert run.fit_seconds is not None and run.fit_seconds > 0
    assert run.peak_memory_bytes is not None and run.peak_memory_bytes > 10 * 2**20
    assert run.environment is not None
    assert run.environment["packages"]["scikit-learn"] == sklearn.__version__
    names = {a.name for a in run.artifacts}
    assert names == {"model", "split", "profile", "classes", "calibration"}
    kept_classes = project.runs_store.artifacts.load(run.artifact("classes"))
    assert kept_classes == {"classes": project.load_model(run.id).classes_.tolist()}
    model_file = Path(run.artifact("model").uri.removeprefix("file://"))
    assert run.artifact("model").sha256 == hashlib.sha256(model_file.read_bytes()).hexdigest()


def test_fit_keeps_the_confidence_and_correctness_of_each_dev_row_for_deferral(
    project: prodml.Project,
) -> None:
    run = project.fit()
    data, model = project.load_data(), project.load_model(run.id)
    assignment = project.runs_store.artifacts.load(run.artifact("split"))
    dev = data.rows(np.flatnonzero(assignment == DEV))

    kept = project.runs_store.artifacts.load(run.artifact("calibration"))

    probabilities = model.predict_proba(dev.X)
    assert kept["confidence"] == pytest.approx(probabilities.max(axis=1).tolist())
    assert kept["correct"] == (model.predict(dev.X) == dev.y).tolist()
    assert len(kept["correct"]) == len(dev.frame) > 0


def test_fit_records_the_input_schema_the_reference_profile_and_the_data_set(
    project: prodml.Project,
) -> None:
    run = project.fit()
    data = project.load_data()
    assignment = project.runs_store.artifacts.load(run.artifact("split"))
    train = data.frame[assignment == TRAIN]
    held_out = data.rows(np.flatnonzero(assignment != TRAIN))

    assert run.input_schema is not None
    schema = Schema.from_dict(run.input_schema)
    assert [c.name for c in schema.columns] == list(data.features)
    assert schema.rows == len(train)
    radius = schema.column("mean_radius")
    assert (radius.minimum, radius.maximum) == (
        train["mean_radius"].min(),
        train["mean_radius"].max(),
    )

    profile = Profile.from_dict(project.runs_store.artifacts.load(run.artifact("profile")))
    assert profile.rows == len(held_out.frame)
    radius_profile = profile.columns["mean_radius"]
    assert isinstance(radius_profile, NumericProfile)
    assert radius_profile.mean == pytest.approx(held_out.frame["mean_radius"].mean())
    model = project.load_model(run.id)
    predicted = pd.Series(model.predict(held_out.X)).value_counts().to_dict()
    assert profile.outputs is not None
    assert isinstance(profile.outputs.predicted, CategoricalProfile)
    assert profile.outputs.predicted.counts == predicted

    recorded = Datasets(project.runs_store.database).get(str(run.data_fingerprint))
    assert (recorded.source, recorded.rows) == ("data/breast_cancer.csv", 569)
    assert recorded.schema_hash == infer_schema(data.frame).hash()


def test_recorded_metrics_are_the_loaded_models_metrics(project: prodml.Project) -> None:
    run = project.fit()
    frame = pd.read_csv(project.path / "data" / "breast_cancer.csv")
    assignment = project.runs_store.artifacts.load(run.artifact("split"))
    model = project.load_model(run.id)
    test = frame[assignment == TEST]
    features = test.drop(columns=["patient_id", "diagnosis"])
    predicted = model.predict(features)
    assert run.metrics is not None
    assert run.metrics["test.accuracy"] == accuracy_score(test["diagnosis"], predicted)
    train = frame[assignment == TRAIN]
    assert run.metrics["train.support[malignant]"] == (train["diagnosis"] == "malignant").sum()


def test_same_data_and_settings_give_the_same_fingerprint_and_split(
    project: prodml.Project,
) -> None:
    first, second = project.fit(), project.fit()
    assert first.data_fingerprint == second.data_fingerprint
    load = project.runs_store.artifacts.load
    np.testing.assert_array_equal(load(first.artifact("split")), load(second.artifact("split")))
    assert first.id != second.id


def test_code_version_and_dirty_flag_come_from_git(project: prodml.Project) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(project.path), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    clean = project.fit()
    assert (clean.code_commit, clean.code_dirty) == (git("rev-parse", "HEAD"), False)
    (project.path / "notes.txt").write_text("changed")
    assert project.fit().code_dirty is True


def test_failed_fit_is_recorded_and_leaves_no_artifact(
    project: prodml.Project, rewrite: Callable[..., prodml.Project]
) -> None:
    project = rewrite(project, "max_iter: 1000", "max_iter: 1000, l1_ratio: 1")
    with pytest.raises(ModelError, match=r"fitting Pipeline failed: Solver lbfgs supports only"):
        project.fit()
    failed = project.runs()[0]
    assert failed.status == "failed" and failed.artifacts == ()
    assert failed.error is not None and "lbfgs" in failed.error
    assert not (project.path / ".prodml" / "artifacts" / failed.id).exists()


def test_interrupted_fit_is_recorded_as_failed(project: prodml.Project) -> None:
    (project.path / "interrupting.py").write_text(
        "from sklearn.dummy import DummyClassifier\n\n"
        "class Interrupting(DummyClassifier):\n"
        "    def fit(self, X, y):\n"
        "        raise KeyboardInterrupt\n"
    )
    with pytest.raises(KeyboardInterrupt):
        project.fit(ModelSpec(factory="interrupting.Interrupting"))
    run = project.runs()[0]
    assert run.status == "failed" and run.error is not None and "interrupted" in run.error
    assert run.artifacts == ()


def test_a_rule_is_fitted_and_tracked_like_a_model(project: prodml.Project) -> None:
    (project.path / "rules.py").write_text(
        "def big_tumour(X):\n"
        "    return (X['worst_radius'] > 16.8).map({True: 'malignant', False: 'benign'})\n"
    )
    run = project.fit(ModelSpec(factory="rules:rules.py:big_tumour"))
    frame = pd.read_csv(project.path / "data" / "breast_cancer.csv")
    assignment = project.runs_store.artifacts.load(run.artifact("split"))
    test = frame[assignment == TEST]
    expected = np.where(test["worst_radius"] > 16.8, "malignant", "benign")
    assert run.metrics is not None
    assert run.metrics["test.accuracy"] == accuracy_score(test["diagnosis"], expected)
    assert project.load_model(run.id).predict(test).tolist() == expected.tolist()


def test_regression_runs_record_mae_rmse_r2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRODML_DATABASE_URL", raising=False)
    (tmp_path / "prodml.yaml").write_text(
        "project: diabetes\ntask: regression\n"
        "data: {source: 'bundled:diabetes', target: target}\n"
        "model: sklearn.linear_model.Ridge\n"
    )
    project = prodml.Project(tmp_path)
    run = project.fit()
    assert run.split is not None and run.split["method"] == "random"
    frame = project.load_data()
    assignment = project.runs_store.artifacts.load(run.artifact("split"))
    test = frame.rows(np.flatnonzero(assignment == TEST))
    predicted = project.load_model(run.id).predict(test.X)
    assert run.metrics is not None
    assert run.metrics["test.mae"] == mean_absolute_error(test.y, predicted)
    assert run.metrics["test.r2"] == r2_score(test.y, predicted)
