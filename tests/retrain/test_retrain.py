"""Project.retrain end to end on SQLite and PostgreSQL: a tracked run with its lineage, a
registered version, a shadow beside the primary; refused and failing candidates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

import prodml
from prodml.errors import ConfigError, DeploymentError
from prodml.evaluate.metrics import metrics

if TYPE_CHECKING:
    from tests.retrain.conftest import GiveFeedback, LogRows, ToyData, WriteProject

SERVED = datetime(2026, 2, 1, tzinfo=UTC)


def serve_and_label(
    project: prodml.Project,
    toy_data: ToyData,
    log_rows: LogRows,
    give_feedback: GiveFeedback,
    rows: int = 60,
    *,
    force: bool = False,
) -> list[str]:
    """Fit, evaluate and register version 1, which opens the endpoint as its primary (when
    its audit passed, or with ``force``); log ``rows`` answers from February on, and label
    them all."""
    run = project.fit()
    project.evaluate(run.id)
    project.register(run.id, force=force, reason="a primary to compare with" if force else None)
    served = toy_data(rows, seed=5, start=SERVED)
    ids = log_rows(project, served)
    give_feedback(project, dict(zip(ids, served["y"].tolist(), strict=True)))
    return ids


def test_retrain_registers_a_candidate_and_deploys_it_as_a_shadow_with_its_lineage(
    toy: prodml.Project, toy_data: ToyData, log_rows: LogRows, give_feedback: GiveFeedback
) -> None:
    serve_and_label(toy, toy_data, log_rows, give_feedback)
    done = toy.retrain(trigger={"rule": "accuracy < 0.7", "windows": 2})
    assert (done.model, done.version, done.passed, done.reasons) == (toy.name, 2, True, [])
    assert (done.shadow, done.mode, done.primary) == (toy.name, "shadow", f"{toy.name}:1")
    deployment = toy.registry.deployment(toy.name)
    assert deployment.primary == 1  # never straight to primary
    assert deployment.candidate is not None
    assert (deployment.candidate.version, deployment.candidate.mode) == (2, "shadow")
    run = toy.run(done.run_id)
    assert run.kind == "fit" and run.status == "finished"
    assert run.id in {r.id for r in toy.runs()}  # prodml runs shows it
    params = run.params or {}
    assert params["retrain.strategy"] == "all"
    assert json.loads(params["retrain.trigger"]) == {"rule": "accuracy < 0.7", "windows": 2}
    # 60 labelled rows: the newest 12 held out, 48 learned; the data's 400 minus its test
    test_rows = (toy.split(toy.load_data()).assignment == 2).sum()
    assert (params["retrain.rows_from_log"], params["retrain.newest_rows"]) == (48, 12)
    assert params["retrain.rows_from_data"] == 400 - test_rows
    assert params["retrain.first"] == "2026-01-01T00:00:00+00:00"
    assert params["retrain.last"] == "2026-02-02T23:00:00+00:00"  # the 48th labelled row
    assert params["retrain.fingerprint"] == done.training_set["fingerprint"]
    assert datetime.fromisoformat(params["retrain.cutoff"]) > SERVED
    # side by side: the same metrics for both models, against scikit-learn
    newest, test = done.scores
    assert (newest.data, newest.rows, test.rows) == ("newest labelled", 12, test_rows)
    candidate = toy.load_model(done.run_id)
    primary = toy.registry.load(toy.registry.get(f"{toy.name}:1"))
    served = toy_data(60, seed=5, start=SERVED).tail(12)
    X = served[["x1", "x2", "c1"]].assign(c1=lambda f: f["c1"].astype("category"))
    for model, scores in ((candidate, newest.candidate), (primary, newest.primary)):
        assert scores is not None
        assert scores["accuracy"] == accuracy_score(served["y"], model.predict(X))
    assert newest.passed is True and test.passed is True


def test_weighted_passes_recency_weights_as_sample_weight(
    toy: prodml.Project, toy_data: ToyData, log_rows: LogRows, give_feedback: GiveFeedback
) -> None:
    serve_and_label(toy, toy_data, log_rows, give_feedback)
    done = toy.retrain(strategy="weighted", half_life="7d", window="30d")
    params = toy.run(done.run_id).params or {}
    assert (params["retrain.strategy"], params["retrain.half_life"]) == ("weighted", "7d")
    assert done.training_set["rows"] == params["retrain.rows_from_data"] + 48
    assert done.version == 2


def test_weighted_is_refused_for_a_model_whose_fit_takes_no_sample_weight(
    tmp_path: Path, database_url: str, write_project: WriteProject
) -> None:
    folder = write_project(
        tmp_path / "knn",
        database_url,
        model={"factory": "sklearn.neighbors.KNeighborsClassifier"},
    )
    with prodml.Project(folder) as project:
        with pytest.raises(
            ConfigError,
            match=r"sklearn.neighbors.KNeighborsClassifier takes none in fit; retrain with "
            r"--strategy all or --strategy window",
        ):
            project.retrain(strategy="weighted")
        assert project.runs() == []  # refused before anything was fitted


def test_a_candidate_that_fails_its_audit_is_registered_not_deployed_and_says_why(
    tmp_path: Path,
    database_url: str,
    write_project: WriteProject,
    toy_data: ToyData,
    log_rows: LogRows,
    give_feedback: GiveFeedback,
) -> None:
    folder = write_project(
        tmp_path / "strict", database_url, audit=[{"metric": "accuracy", "min": 0.97}]
    )
    with prodml.Project(folder) as project:
        serve_and_label(project, toy_data, log_rows, give_feedback, force=True)
        # 5% of the toy data's labels are flipped: below 0.97
        assert project.registry.get(f"{project.name}:1").audit_passed is False
        done = project.retrain()
        assert (done.version, done.passed, done.shadow) == (2, False, None)
        accuracy = done.scores[-1].candidate["accuracy"]
        assert f"original test split: accuracy is {accuracy:.3f}, below the minimum 0.970" in (
            done.reasons
        )
        assert project.registry.deployment(project.name).candidate is None
        assert project.registry.get(f"{project.name}:2").audit_passed is False


def test_metrics_side_by_side_match_a_direct_computation_on_the_test_split(
    toy: prodml.Project, toy_data: ToyData, log_rows: LogRows, give_feedback: GiveFeedback
) -> None:
    serve_and_label(toy, toy_data, log_rows, give_feedback)
    done = toy.retrain(strategy="window", window=200)
    assert done.training_set["rows"] == 200
    data = toy.load_data()
    test = data.rows(np.flatnonzero(toy.split(data).assignment == 2))
    candidate = toy.load_model(done.run_id)
    assert done.scores[-1].candidate == metrics(
        "classification", test.y, candidate.predict(test.X), data.labels
    )


def test_retraining_an_endpoint_that_serves_nothing_is_refused_before_anything_is_made(
    toy: prodml.Project,
) -> None:
    toy.evaluate(toy.fit().id)  # fitted and audited, never registered: no endpoint
    runs = len(toy.runs())
    with pytest.raises(DeploymentError, match=rf"endpoint {toy.name} serves nothing yet"):
        toy.retrain()
    assert toy.registry.versions(toy.name) == [] and len(toy.runs()) == runs


def test_without_labelled_predictions_the_candidate_learns_from_the_data_alone(
    toy: prodml.Project,
) -> None:
    run = toy.fit()
    toy.evaluate(run.id)
    toy.register(run.id)
    done = toy.retrain()
    test_rows = (toy.split(toy.load_data()).assignment == 2).sum()
    assert (done.training_set["rows_from_log"], done.training_set["rows_from_data"]) == (
        0,
        400 - test_rows,
    )
    assert [s.data for s in done.scores] == ["original test split"]
    data = toy.load_data()
    test = data.rows(np.flatnonzero(toy.split(data).assignment == 2))
    predicted = toy.load_model(done.run_id).predict(test.X)
    assert done.scores[0].candidate["accuracy"] == accuracy_score(test.y, predicted)
    assert (done.passed, done.mode) == (True, "shadow")


def test_the_lineage_names_the_window_and_half_life_prodml_yaml_gave(
    tmp_path: Path,
    database_url: str,
    write_project: WriteProject,
    toy_data: ToyData,
    log_rows: LogRows,
    give_feedback: GiveFeedback,
) -> None:
    folder = write_project(
        tmp_path / "set", database_url, retrain={"strategy": "window", "window": 100}
    )
    with prodml.Project(folder) as project:
        serve_and_label(project, toy_data, log_rows, give_feedback)
        done = project.retrain()
        params = project.run(done.run_id).params or {}
        assert (params["retrain.window"], params["retrain.half_life"]) == ("100", None)
        weighted = project.retrain(strategy="weighted")
        params = project.run(weighted.run_id).params or {}
        assert (params["retrain.window"], params["retrain.half_life"]) == (None, "30d")
