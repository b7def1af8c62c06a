"""`Registry`: numbered versions with their lineage, endpoints, and the errors users see.

The PostgreSQL database is shared by the session, so every model name here carries a
uuid; a test sees only its own names.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete

from prodml.deploy.changes import Deployer
from prodml.errors import ConfigError, NotFoundError
from prodml.registry import Registry
from prodml.store.artifacts import ArtifactStore
from prodml.store.database import Database
from prodml.store.evaluations import Evaluations
from prodml.store.runs import Run, Runs
from prodml.store.tables import DeploymentRow

if TYPE_CHECKING:
    from tests.conftest import Together


def fitted(runs: Runs, model: dict[str, Any] | None = None, *, passed: bool | None = True) -> Run:
    """A finished fit with a model artifact (a JSON stand-in for an estimator), evaluated
    with an audit that ``passed`` (None: never evaluated)."""
    run_id = runs.start("registry-tests", "fit")
    model = {"weights": [1, 2, 3]} if model is None else model
    run = runs.finish(
        run_id,
        artifacts=(runs.artifacts.save(run_id, "model", model),),
        data_fingerprint="f" * 64,
        input_schema={"format_version": 1, "rows": 3, "columns": [{"name": "x"}]},
    )
    if passed is not None:
        rules = [{"rule": "recall >= 0.9", "value": 0.8, "passed": passed, "reason": "low"}]
        result = {"audit": {"passed": passed, "rules": rules}}
        Evaluations(runs.database).record(
            run.id, run.project, data={}, result=result, passed=passed
        )
    return run


def registered(registry: Registry, runs: Runs, name: str, count: int) -> Run:
    """Register ``count`` versions of ``name``, all of one fitted run; return the run."""
    run = fitted(runs)
    for _ in range(count):
        registry.register(run, name)
    return run


def actions(registry: Registry, endpoint: str) -> list[tuple[str, int | None]]:
    return [(event.action, event.version) for event in registry.events(endpoint)]


# --- register -----------------------------------------------------------------------------


def test_the_first_version_is_1_and_the_primary_of_an_endpoint_of_its_name(
    registry: Registry, runs: Runs, name: str
) -> None:
    run = fitted(runs)

    version = registry.register(run, name)

    assert (version.ref, version.version, version.run_id) == (f"{name}:1", 1, run.id)
    deployment = registry.deployment(name)
    assert (deployment.name, deployment.primary, deployment.revision) == (name, 1, 1)
    assert (deployment.candidate, deployment.previous) == (None, None)
    assert actions(registry, name) == [("registered", 1), ("primary", 1)]
    registered_event, primary_event = registry.events(name)
    assert registered_event.detail == {"run": run.id}
    evaluation = Evaluations(runs.database).latest(run.id)
    assert evaluation is not None and version.evaluation_id == evaluation.id
    assert primary_event.detail == {"audit": "passed", "evaluation": evaluation.id}
    assert primary_event.revision == 1


@pytest.mark.parametrize("passed", [False, None], ids=["audit-failed", "never-evaluated"])
def test_a_first_version_that_did_not_pass_its_audit_opens_no_endpoint(
    registry: Registry, runs: Runs, name: str, passed: bool | None
) -> None:
    version = registry.register(fitted(runs, passed=passed), name)

    assert (version.version, version.audit_passed) == (1, passed)
    assert registry.deployments(name) == []
    assert actions(registry, name) == [("registered", 1)]
    with pytest.raises(NotFoundError, match=rf"no endpoint '{name}'"):
        registry.deployment(name)


def test_later_versions_count_up_and_leave_the_primary_alone(
    registry: Registry, runs: Runs, name: str
) -> None:
    run = fitted(runs)

    numbers = [registry.register(run, name).version for _ in range(3)]
    other = registry.register(run, f"{name}-other")

    assert numbers == [1, 2, 3]
    assert other.version == 1  # numbered per name
    deployment = registry.deployment(name)
    assert (deployment.primary, deployment.revision) == (1, 1)
    assert actions(registry, name) == [
        ("registered", 1),
        ("primary", 1),
        ("registered", 2),
        ("registered", 3),
    ]


def test_versions_are_newest_first_for_one_name_and_for_all(
    registry: Registry, runs: Runs, name: str
) -> None:
    run = fitted(runs)
    registry.register(run, name)
    registry.register(run, f"{name}-b")
    registry.register(run, name)

    assert [v.ref for v in registry.versions(name)] == [f"{name}:2", f"{name}:1"]
    mine = [v.ref for v in registry.versions() if v.name.startswith(name)]
    assert mine == [f"{name}:2", f"{name}-b:1", f"{name}:1"]


def test_two_processes_registering_at_once_take_each_version_once(
    database_url: str, runs: Runs, registry: Registry, name: str, together: Together
) -> None:
    first, second = fitted(runs), fitted(runs)
    script = """
import os, pathlib, sys, time
from prodml.deploy.changes import Deployer
from prodml.registry import Registry
from prodml.store.artifacts import ArtifactStore
from prodml.store.database import Database
from prodml.store.evaluations import Evaluations
from prodml.store.runs import Runs
url, artifacts, run_id, name, go = sys.argv[1:6]
registry = Registry(Runs(Database(url), ArtifactStore(artifacts)))
run = registry.runs.get(run_id)
print("ready", flush=True)
while not pathlib.Path(go).exists():
    time.sleep(0.001)
print(" ".join(str(registry.register(run, name).version) for _ in range(10)), flush=True)
os._exit(0)
"""
    artifacts = runs.artifacts.url
    results = together([(script, [database_url, artifacts, r.id, name]) for r in (first, second)])

    taken = []
    for code, stdout, stderr in results:
        assert code == 0, stderr
        taken.append([int(n) for n in stdout.split()[-10:]])
    assert sorted(taken[0] + taken[1]) == list(range(1, 21))
    by_run = {v.version: v.run_id for v in registry.versions(name)}
    assert {by_run[n] for n in taken[0]} == {first.id} and {by_run[n] for n in taken[1]} == {
        second.id
    }
    assert registry.deployment(name).primary == 1
    assert [a for a, _ in actions(registry, name)].count("primary") == 1


def test_register_refuses_a_run_that_keeps_no_model(
    registry: Registry, runs: Runs, name: str
) -> None:
    sanity = runs.start("registry-tests", "sanity")
    with pytest.raises(NotFoundError, match=r"is a sanity run, which keeps no model to register"):
        registry.register(runs.get(sanity), name)
    running = runs.start("registry-tests", "fit")
    with pytest.raises(NotFoundError, match=rf"run {running} is running; only a finished fit"):
        registry.register(runs.get(running), name)
    runs.fail(running, "out of memory")
    with pytest.raises(NotFoundError, match=rf"run {running} is failed"):
        registry.register(runs.get(running), name)
    bare = runs.start("registry-tests", "fit")
    with pytest.raises(NotFoundError, match=rf"run {bare} has no artifact 'model'.*it has: none"):
        registry.register(runs.finish(bare), name)
    assert registry.versions(name) == []


@pytest.mark.parametrize("bad", ["my model", "loans:2", "", "-dash", "x" * 201, "a/b"])
def test_register_refuses_a_name_that_cannot_be_in_a_url(
    registry: Registry, runs: Runs, bad: str
) -> None:
    with pytest.raises(ConfigError, match=r"use letters, digits, '.', '_' and '-'.*--name"):
        registry.register(fitted(runs), bad)


# --- get ------------------------------------------------------------------------------------


def test_get_resolves_a_name_to_the_primary_and_a_number_or_latest_to_that_version(
    registry: Registry, runs: Runs, name: str
) -> None:
    registered(registry, runs, name, 3)
    deployer = Deployer(registry, actor="tests")
    deployer.deploy(f"{name}:2", "blue-green")
    deployer.promote(name)

    assert registry.get(name).version == 2
    assert registry.get(f"{name}:latest").version == 3
    assert registry.get(f"{name}:1").version == 1


def test_get_of_a_name_no_endpoint_serves_is_its_newest_version(
    registry: Registry, runs: Runs, name: str
) -> None:
    registered(registry, runs, name, 2)
    with runs.database.session() as session:
        session.execute(delete(DeploymentRow).where(DeploymentRow.endpoint == name))

    assert registry.get(name).version == 2


def test_get_errors_say_what_exists(registry: Registry, runs: Runs, name: str) -> None:
    registered(registry, runs, name, 2)

    with pytest.raises(
        NotFoundError, match=rf"model {name} has no version 7; its versions are: 1, 2$"
    ):
        registry.get(f"{name}:7")
    with pytest.raises(NotFoundError, match=r"version 'two', which is not a number or 'latest'"):
        registry.get(f"{name}:two")
    typo = name[:-1]
    with pytest.raises(
        NotFoundError,
        match=rf"no model named '{typo}' is registered; models are: .*did you mean '{name}'\?",
    ):
        registry.get(typo)


def test_get_in_an_empty_registry_says_how_to_register(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        registry = Registry(Runs(database, ArtifactStore(str(tmp_path / "artifacts"))))
        with pytest.raises(NotFoundError, match=r"no model is, yet: `prodml models register`"):
            registry.get("loans")
    finally:
        database.dispose()
