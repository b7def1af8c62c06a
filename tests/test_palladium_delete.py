"""``prodml runs delete RUN`` and ``prodml models delete NAME:V``: refused while a version
serves (primary, candidate) or is what a rollback brings back, and while a run is under way
or the lineage of a version; a deleted version is an event and its number is never given
again; a deleted run takes its files, evaluations and search candidates with it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import prodml
from prodml.cli import app
from prodml.deploy.changes import who
from prodml.errors import DeploymentError, NotFoundError, StoreError
from prodml.registry import Registry
from prodml.store.evaluations import Evaluations
from prodml.store.runs import RUN_HISTORY, Runs
from prodml.store.tables import EvaluationRow, RunRow

runner = CliRunner()

pytestmark = pytest.mark.usefixtures("default_store")


def command(folder: Path, *args: str) -> Any:
    return runner.invoke(app, [*args, "-C", str(folder)], catch_exceptions=False)


def ok(folder: Path, *args: str) -> str:
    result = command(folder, *args)
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.split())


def error_line(folder: Path, *args: str) -> str:
    result = command(folder, *args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return " ".join(lines[0].split())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """breast-cancer with three evaluated fits, the first registered (so the primary of
    endpoint breast-cancer): their run ids in ``runs.json``, oldest first."""
    folder = prodml.init(tmp_path_factory.mktemp("delete") / "bc", example="breast-cancer")
    with prodml.Project(folder) as project:
        fits = [project.fit() for _ in range(3)]
        for run in fits:
            project.evaluate(run.id)
        project.register(fits[0].id)
    (folder / "runs.json").write_text(json.dumps([run.id for run in fits]))
    return folder


@pytest.fixture
def folder(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "bc"))


def run_ids(folder: Path) -> list[str]:
    ids: list[str] = json.loads((folder / "runs.json").read_text())
    return ids


def test_a_version_that_serves_or_would_come_back_is_not_deleted(folder: Path) -> None:
    first, second, third = run_ids(folder)
    ok(folder, "models", "register", second)
    assert error_line(folder, "models", "delete", "breast-cancer:1") == (
        "error: model breast-cancer:1 is the primary of endpoint breast-cancer; put another "
        "version in its place first (prodml deploy breast-cancer:VERSION --blue-green, then "
        "prodml promote breast-cancer)"
    )
    ok(folder, "deploy", "breast-cancer:2", "--shadow")
    assert error_line(folder, "models", "delete", "breast-cancer:2") == (
        "error: model breast-cancer:2 is the shadow candidate of endpoint breast-cancer; drop "
        "it first (prodml deploy breast-cancer --stop), then delete it"
    )
    ok(folder, "promote", "breast-cancer")
    assert error_line(folder, "models", "delete", "breast-cancer:1") == (
        "error: model breast-cancer:1 is the previous primary of endpoint breast-cancer, which "
        "prodml rollback breast-cancer brings back; it can be deleted once a promotion "
        "replaces it"
    )
    ok(folder, "models", "register", third)
    ok(folder, "deploy", "breast-cancer:3", "--blue-green")
    ok(folder, "promote", "breast-cancer")  # 1 is no longer what a rollback brings back
    deleted = json.loads(
        ok(folder, "models", "delete", "breast-cancer:1", "--reason", "superseded", "--json")
    )
    assert (deleted["ref"], deleted["run_id"]) == ("breast-cancer:1", first)
    listed = json.loads(ok(folder, "models", "list", "--json"))
    assert [v["ref"] for v in listed] == ["breast-cancer:3", "breast-cancer:2"]
    with prodml.Project(folder) as project:
        last = project.registry.events("breast-cancer")[-1]
        assert (last.action, last.version, last.reason) == ("deleted", 1, "superseded")
        assert last.detail == {"run": first} and last.actor
    assert "no version 1; its versions are: 2, 3" in error_line(
        folder, "models", "show", "breast-cancer:1"
    )


def test_a_deleted_versions_number_is_not_given_again(folder: Path) -> None:
    _, second, third = run_ids(folder)
    ok(folder, "models", "register", second)
    said = ok(folder, "models", "delete", "breast-cancer:2")
    assert said == f"Deleted breast-cancer:2 and its run {second} with its 5 artifact files."
    registered = json.loads(ok(folder, "models", "register", third, "--json"))
    assert registered["ref"] == "breast-cancer:3"


def test_a_reference_without_a_version_is_refused(folder: Path) -> None:
    assert error_line(folder, "models", "delete", "breast-cancer") == (
        "error: model reference 'breast-cancer' names no version; give the one to delete as "
        "breast-cancer:VERSION (prodml models list --name breast-cancer lists them)"
    )


def test_a_run_that_a_version_came_from_is_kept_until_the_version_goes(folder: Path) -> None:
    first, second, _ = run_ids(folder)
    ok(folder, "models", "register", second)
    said = ok(folder, "models", "delete", "breast-cancer:2", "--keep-run")
    assert said == (
        f"Deleted breast-cancer:2. Its run {second} stays, with its files (--keep-run): "
        f"prodml runs delete {second} removes them."
    )
    assert error_line(folder, "runs", "delete", first[:6]) == (
        f"error: run {first} is registered as breast-cancer:1; delete the model versions "
        "first (prodml models delete breast-cancer:1), then the run"
    )
    files = folder / ".prodml" / "artifacts" / second
    assert (files / "model.skops").is_file()
    said = ok(folder, "runs", "delete", second, "--reason", "a leaky feature")
    assert said == f"Deleted run {second} (fit, finished) and its 5 artifact files."
    assert not files.exists()
    assert f"run '{second}' is not in the store" in error_line(folder, "runs", "show", second)
    with prodml.Project(folder) as project:
        assert Evaluations(project.runs_store.database).list(second) == []
        last = project.registry.events(RUN_HISTORY)[-1]
    assert (last.action, last.reason, last.actor) == ("run deleted", "a leaky feature", who())
    assert last.detail is not None and last.detail["run"] == second


def test_a_search_is_deleted_with_its_candidates(folder: Path) -> None:
    with prodml.Project(folder) as project:
        search = project.search()
        candidates = [c.id for c in project.runs(parent=search.id)]
    assert len(candidates) == 5
    deleted = json.loads(ok(folder, "runs", "delete", search.id, "--json"))
    assert (deleted["id"], deleted["kind"]) == (search.id, "search")
    with prodml.Project(folder) as project, project.runs_store.database.reading() as session:
        left = session.scalar(select(func.count()).where(RunRow.id.in_([search.id, *candidates])))
        assert left == 0
    assert not (folder / ".prodml" / "artifacts" / search.id).exists()


def test_a_run_under_way_is_not_deleted(runs: Runs, name: str) -> None:
    run_id = runs.start(name, "fit")
    with pytest.raises(
        StoreError,
        match=rf"run {run_id} is running \(pid {os.getpid()} on .+\); wait for it to end, "
        "or stop it, before deleting it",
    ):
        runs.delete(run_id)


def test_deleting_on_each_store_removes_the_rows_and_files(
    runs: Runs, registry: Registry, name: str
) -> None:
    run_id = runs.start(name, "fit")
    run = runs.finish(run_id, artifacts=(runs.artifacts.save(run_id, "model", {"w": 1}),))
    Evaluations(runs.database).record(run_id, name, data={}, result={}, passed=True)
    registry.register(run, name)
    registry.register(run, name)
    with pytest.raises(DeploymentError, match=rf"model {name}:1 is the primary of endpoint"):
        registry.delete(f"{name}:1")
    registry.delete(f"{name}:2", actor="ana")
    with pytest.raises(NotFoundError, match=rf"model {name} has no version 2"):
        registry.get(f"{name}:2")
    with pytest.raises(StoreError, match=rf"registered as {name}:1;"):
        runs.delete(run_id)
    assert registry.register(run, name).version == 3
    with runs.database.reading() as session:
        assert session.scalar(select(func.count()).where(EvaluationRow.run_id == run_id)) == 1


def files_of(runs: Runs, run_id: str) -> dict[str, bytes]:
    folder = Path(runs.artifacts.root) / run_id
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def fitted(runs: Runs, name: str, metrics: dict[str, float]) -> str:
    """A finished fit of project ``name`` with two artifacts and ``metrics``."""
    run_id = runs.start(name, "fit", model_spec={"factory": "sklearn.dummy.DummyClassifier"})
    saved = (
        runs.artifacts.save(run_id, "model", {"w": 1}),
        runs.artifacts.save(run_id, "profile", {}),
    )
    runs.finish(run_id, artifacts=saved, metrics=metrics)
    return run_id


def test_a_deleted_run_leaves_an_event_of_who_when_and_what_it_had(
    runs: Runs, registry: Registry, name: str
) -> None:
    metrics = {"train.accuracy": 1.0, "test.accuracy": 0.75, "test.f1": 0.5}
    run_id = fitted(runs, name, metrics)
    kept = files_of(runs, run_id)
    before = datetime.now(UTC)

    deleted = runs.delete(run_id[:8], actor="ana", reason="trained on last year's data")

    assert deleted.id == run_id and not (Path(runs.artifacts.root) / run_id).exists()
    [happened] = [e for e in registry.events(RUN_HISTORY) if (e.detail or {}).get("run") == run_id]
    assert (happened.action, happened.actor, happened.reason, happened.version) == (
        "run deleted",
        "ana",
        "trained on last year's data",
        None,
    )
    assert before <= happened.at <= datetime.now(UTC)
    assert happened.detail is not None
    assert happened.detail["model"] == {"factory": "sklearn.dummy.DummyClassifier"}
    assert happened.detail["metrics"] == {"test.accuracy": 0.75, "test.f1": 0.5}
    assert (happened.detail["project"], happened.detail["kind"]) == (name, "fit")
    assert happened.detail["artifacts"] == {
        "model": hashlib.sha256(kept["model.json"]).hexdigest(),
        "profile": hashlib.sha256(kept["profile.json"]).hexdigest(),
    }
    assert registry.events(name) == []  # no endpoint's history is touched


def test_a_refused_run_deletion_leaves_no_event(runs: Runs, registry: Registry, name: str) -> None:
    run_id = runs.start(name, "fit")
    with pytest.raises(StoreError, match="is running"):
        runs.delete(run_id, actor="ana")
    assert [e for e in registry.events(RUN_HISTORY) if (e.detail or {}).get("run") == run_id] == []


def test_deleting_a_version_removes_its_runs_files_once_no_version_needs_them(
    runs: Runs, registry: Registry, name: str
) -> None:
    shared = fitted(runs, name, {"test.accuracy": 0.9})
    other = fitted(runs, name, {"test.accuracy": 0.8})
    run = runs.get(shared)
    registry.register(run, name)  # {name}:1
    registry.register(run, f"{name}-b")  # the same run's files, another name
    registry.register(runs.get(other), name)  # {name}:2
    untouched = files_of(runs, other)

    first = registry.delete(f"{name}:1", actor="ana", reason="superseded")
    assert (first.run, first.kept_for) == (None, (f"{name}-b:1",))
    assert sorted(files_of(runs, shared)) == ["model.json", "profile.json"]
    assert runs.get(shared).artifacts == run.artifacts

    last = registry.delete(f"{name}-b:1", actor="ana")
    assert last.run is not None and last.run.id == shared and last.kept_for == ()
    assert not (Path(runs.artifacts.root) / shared).exists()
    with pytest.raises(NotFoundError, match=f"run '{shared}' is not in the store"):
        runs.get(shared)
    assert files_of(runs, other) == untouched
    assert registry.load(registry.get(f"{name}:2")) == {"w": 1}
    [gone] = [e for e in registry.events(RUN_HISTORY) if (e.detail or {}).get("run") == shared]
    assert (gone.actor, gone.reason) == ("ana", f"{name}-b:1 was deleted")


def test_a_version_deleted_with_keep_run_keeps_the_run_and_its_files(
    runs: Runs, registry: Registry, name: str
) -> None:
    run_id = fitted(runs, name, {"test.accuracy": 0.9})
    registry.register(runs.get(run_id), name)
    kept = files_of(runs, run_id)

    deleted = registry.delete(f"{name}:1", keep_run=True)

    assert (deleted.version.ref, deleted.run, deleted.kept_for) == (f"{name}:1", None, ())
    assert files_of(runs, run_id) == kept and runs.get(run_id).status == "finished"
