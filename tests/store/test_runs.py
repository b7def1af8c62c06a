"""`Runs`: a run's life from start to finish or failure, lookups, listing and reconcile."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import numpy as np
import pytest
from sqlalchemy import select

from prodml.errors import NotFoundError, StoreError
from prodml.store.artifacts import ArtifactStore
from prodml.store.database import Database

if TYPE_CHECKING:
    from tests.conftest import Together
from prodml.store.runs import Run, Runs
from prodml.store.tables import ArtifactRow, RunRow

#: A child process that writes ``count`` finished runs once the parent creates "go".
WRITE_RUNS = """
import os, pathlib, sys, time
from prodml.store.artifacts import ArtifactStore
from prodml.store.database import Database
from prodml.store.runs import Runs
url, artifacts, project, count, go = sys.argv[1:6]
database = Database(url)
runs = Runs(database, ArtifactStore(artifacts))
print("ready", flush=True)
while not pathlib.Path(go).exists():
    time.sleep(0.001)
for i in range(int(count)):
    run_id = runs.start(project, "candidate")
    runs.record(run_id, params={"i": i, "pid": os.getpid()})
    runs.finish(run_id, metrics={"score": i / 10})
database.dispose()
print("done", flush=True)
# The package's interpreter shutdown is slow (seconds); nothing is left to clean up.
os._exit(0)
"""


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def set_pid(database: Database, run_id: str, pid: int) -> None:
    with database.session() as session:
        row = session.get(RunRow, run_id)
        assert row is not None
        row.pid = pid


def all_ids(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(RunRow.id)))


def ids(listed: list[Run]) -> list[str]:
    return [run.id for run in listed]


# --- a run's life ----------------------------------------------------------------------


def test_started_run_is_running_on_this_host_and_process(runs: Runs, project: str) -> None:
    before = datetime.now(UTC)
    run_id = runs.start(project, "fit", code_commit="a" * 40, code_dirty=False)

    run = runs.get(run_id)
    assert (run.id, run.project, run.kind, run.status) == (run_id, project, "fit", "running")
    assert (run.host, run.pid) == (socket.gethostname(), os.getpid())
    assert (run.code_commit, run.code_dirty) == ("a" * 40, False)
    assert run.parent_id is None
    assert run.ended_at is None
    assert run.error is None
    assert run.artifacts == ()
    assert run.started_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= run.started_at <= datetime.now(UTC)


def test_recorded_fields_are_read_back(runs: Runs, project: str) -> None:
    run_id = runs.start(project, "fit")
    runs.record(
        run_id,
        data_source="data/loans.parquet",
        data_fingerprint="f" * 64,
        data_rows=12_345_678_901,
        split={"method": "stratified", "dev": 0.2, "test": 0.2, "seed": 0},
        model_spec={"factory": "sklearn.linear_model.LogisticRegression"},
        params={"C": 0.5, "penalty": "l2"},
    )
    runs.record(run_id, fit_seconds=1.25, cpu_seconds=2.5, peak_memory_bytes=3 * 2**30)

    run = runs.get(run_id)
    assert run.status == "running"
    assert run.data_source == "data/loans.parquet"
    assert run.data_fingerprint == "f" * 64
    assert run.data_rows == 12_345_678_901
    assert run.split == {"method": "stratified", "dev": 0.2, "test": 0.2, "seed": 0}
    assert run.model_spec == {"factory": "sklearn.linear_model.LogisticRegression"}
    assert run.params == {"C": 0.5, "penalty": "l2"}
    assert (run.fit_seconds, run.cpu_seconds) == (1.25, 2.5)
    assert run.peak_memory_bytes == 3 * 2**30


def test_recording_an_unknown_field_is_refused(runs: Runs, project: str) -> None:
    run_id = runs.start(project, "fit")

    with pytest.raises(TypeError, match=r"runs cannot record \['colour'\]; recordable: "):
        runs.record(run_id, colour="red")
    with pytest.raises(TypeError, match=r"runs cannot record \['status'\]"):
        runs.start(project, "fit", status="finished")


def test_finish_registers_artifacts_and_closes_the_run(runs: Runs, project: str) -> None:
    run_id = runs.start(project, "fit")
    split = runs.artifacts.save(run_id, "split", np.array([0, 2, 1], dtype=np.int8))
    weights = runs.artifacts.save(run_id, "weights", np.linspace(0, 1, 5))

    finished = runs.finish(run_id, artifacts=(split, weights), metrics={"dev": {"auc": 0.91}})

    assert finished == runs.get(run_id)
    assert finished.status == "finished"
    assert finished.metrics == {"dev": {"auc": 0.91}}
    assert finished.ended_at is not None
    assert finished.started_at <= finished.ended_at <= datetime.now(UTC)
    assert finished.artifacts == (split, weights)
    assert runs.artifacts.load(finished.artifact("split")).tolist() == [0, 2, 1]
    with pytest.raises(NotFoundError, match=r"has no artifact 'model' .*it has: split, weights"):
        finished.artifact("model")


def test_failed_run_keeps_the_error_and_loses_its_files(
    runs: Runs, database: Database, project: str, artifacts_root: Path
) -> None:
    run_id = runs.start(project, "fit")
    runs.artifacts.save(run_id, "split", np.arange(3, dtype=np.int8))
    assert (artifacts_root / run_id / "split.npy").is_file()

    runs.fail(run_id, "ValueError: the target has one class")

    run = runs.get(run_id)
    assert run.status == "failed"
    assert run.error == "ValueError: the target has one class"
    assert run.ended_at is not None
    assert run.artifacts == ()
    assert not (artifacts_root / run_id).exists()
    with database.session() as session:
        rows = session.scalars(select(ArtifactRow).where(ArtifactRow.run_id == run_id)).all()
    assert rows == []


@pytest.mark.parametrize("close", ["finish", "fail"])
def test_closed_run_cannot_be_recorded_or_finished(runs: Runs, project: str, close: str) -> None:
    run_id = runs.start(project, "fit")
    if close == "finish":
        runs.finish(run_id)
        status = "finished"
    else:
        runs.fail(run_id, "boom")
        status = "failed"

    message = rf"run {run_id} is {status}, not running; it cannot be changed"
    with pytest.raises(StoreError, match=message):
        runs.record(run_id, params={"C": 1.0})
    with pytest.raises(StoreError, match=message):
        runs.finish(run_id, metrics={"auc": 1.0})
    assert runs.get(run_id).status == status
    assert runs.get(run_id).params is None


def test_failing_a_finished_run_is_refused_and_keeps_its_files(runs: Runs, project: str) -> None:
    run_id = runs.start(project, "fit")
    saved = runs.artifacts.save(run_id, "split", np.arange(3, dtype=np.int8))
    runs.finish(run_id, artifacts=(saved,))

    with pytest.raises(StoreError, match=rf"run {run_id} is finished, not running"):
        runs.fail(run_id, "too late")

    assert runs.get(run_id).status == "finished"
    assert runs.artifacts.load(runs.get(run_id).artifact("split")).tolist() == [0, 1, 2]


def test_values_json_cannot_hold_are_stored_as_null(runs: Runs, project: str) -> None:
    run_id = runs.start(project, "fit")
    run = runs.finish(run_id, metrics={"r2": float("nan"), "big": float("inf"), "n": np.int64(7)})
    assert run.metrics == {"r2": None, "big": None, "n": 7}


def test_a_child_of_an_unknown_parent_is_refused(runs: Runs, project: str) -> None:
    with pytest.raises(NotFoundError, match=r"parent run 'nope' is not in the store"):
        runs.start(project, "candidate", parent_id="nope")


def test_missing_run_cannot_be_finished(runs: Runs) -> None:
    with pytest.raises(StoreError, match=r"run nosuchrun is missing, not running"):
        runs.finish("nosuchrun")


def test_json_metrics_round_trip_exactly(runs: Runs, project: str) -> None:
    metrics: dict[str, Any] = {
        "dev": {"auc": 0.9123456789012345, "log_loss": 1e-12, "confusion": [[50, 3], [4, 43]]},
        "test": {"auc": 0.875, "accepted": True, "note": None},
        "per_group": {"région": {"n": 2**40, "rate": -0.5}},
        "order": ["z", "a", "m"],
    }
    run_id = runs.start(project, "fit")

    run = runs.finish(run_id, metrics=metrics, environment={"python": "3.11", "numpy": "2.x"})

    assert run.metrics == metrics
    assert run.environment == {"python": "3.11", "numpy": "2.x"}


# --- lookups ---------------------------------------------------------------------------


def test_get_finds_a_run_by_a_unique_prefix_of_its_id(
    runs: Runs, database: Database, project: str
) -> None:
    run_id = runs.start(project, "fit")
    others = [other for other in all_ids(database) if other != run_id]
    length = next(
        n for n in range(1, len(run_id) + 1) if not any(o.startswith(run_id[:n]) for o in others)
    )

    assert runs.get(run_id[:length]).id == run_id
    assert runs.get(run_id).id == run_id


def test_get_of_an_unknown_id_suggests_the_closest_run(runs: Runs, project: str) -> None:
    run_id = runs.start(project, "fit")
    typo = run_id[:-1] + ("0" if run_id[-1] != "0" else "1")

    with pytest.raises(
        NotFoundError,
        match=rf"run '{typo}' is not in the store; did you mean '{run_id}'\?; `prodml runs list`",
    ):
        runs.get(typo)


def test_get_of_an_unknown_id_far_from_any_run_suggests_nothing(runs: Runs, project: str) -> None:
    runs.start(project, "fit")

    with pytest.raises(NotFoundError) as caught:
        runs.get("zzzzzzzz")
    assert str(caught.value) == (
        "run 'zzzzzzzz' is not in the store; `prodml runs list` shows the runs"
    )


def test_get_of_an_ambiguous_prefix_asks_for_more(runs: Runs, project: str) -> None:
    # Ids are hex: among 17 runs two share a first character.
    by_first: dict[str, list[str]] = {}
    for _ in range(17):
        run_id = runs.start(project, "candidate")
        by_first.setdefault(run_id[0], []).append(run_id)
    shared = next(first for first, same in by_first.items() if len(same) > 1)

    with pytest.raises(NotFoundError, match=rf"run '{shared}' is ambiguous; give more of its id"):
        runs.get(shared)


def test_get_treats_like_wildcards_literally(runs: Runs, project: str) -> None:
    runs.start(project, "fit")

    with pytest.raises(NotFoundError, match=r"run '%' is not in the store"):
        runs.get("%")
    with pytest.raises(NotFoundError, match=r"run '_' is not in the store"):
        runs.get("_")


# --- listing ---------------------------------------------------------------------------


def test_list_gives_top_level_runs_of_a_project_newest_first(runs: Runs, project: str) -> None:
    first = runs.start(project, "fit")
    search = runs.start(project, "search")
    runs.start(project, "candidate", parent_id=search)
    last = runs.start(project, "sanity")
    runs.start(f"{project}-other", "fit")

    assert ids(runs.list(project)) == [last, search, first]


def test_list_of_a_parent_gives_its_children_newest_first(runs: Runs, project: str) -> None:
    search = runs.start(project, "search")
    children = [runs.start(project, "candidate", parent_id=search) for _ in range(3)]
    other_search = runs.start(project, "search")
    runs.start(project, "candidate", parent_id=other_search)

    listed = runs.list(project, parent_id=search)

    assert ids(listed) == children[::-1]
    assert {run.parent_id for run in listed} == {search}


def test_list_with_top_level_off_gives_every_run(runs: Runs, project: str) -> None:
    search = runs.start(project, "search")
    child = runs.start(project, "candidate", parent_id=search)

    assert ids(runs.list(project, top_level=False)) == [child, search]


def test_list_limit_keeps_the_newest(runs: Runs, project: str) -> None:
    started = [runs.start(project, "fit") for _ in range(5)]

    assert ids(runs.list(project, limit=2)) == started[:-3:-1]
    assert len(runs.list(project)) == 5


# --- reconcile -------------------------------------------------------------------------


def test_reconcile_fails_running_runs_whose_process_died(
    runs: Runs, database: Database, project: str, artifacts_root: Path
) -> None:
    orphan = runs.start(project, "fit")
    runs.artifacts.save(orphan, "split", np.arange(3, dtype=np.int8))
    set_pid(database, orphan, dead_pid())
    alive = runs.start(project, "fit")
    finished = runs.start(project, "fit")
    runs.finish(finished)
    set_pid(database, finished, dead_pid())

    reconciled = runs.reconcile(project)

    assert orphan in reconciled
    assert alive not in reconciled
    assert finished not in reconciled
    run = runs.get(orphan)
    assert run.status == "failed"
    assert run.error == "the process ended without closing the run (killed or crashed)"
    assert not (artifacts_root / orphan).exists()
    assert runs.get(alive).status == "running"
    assert runs.get(finished).status == "finished"
    assert orphan not in runs.reconcile(project)


def test_reconcile_leaves_runs_of_other_hosts_alone(
    runs: Runs, database: Database, project: str
) -> None:
    run_id = runs.start(project, "fit")
    with database.session() as session:
        row = session.get(RunRow, run_id)
        assert row is not None
        row.host, row.pid = f"elsewhere-{uuid4().hex[:8]}", dead_pid()

    assert run_id not in runs.reconcile(project)
    assert runs.get(run_id).status == "running"


def test_reconcile_leaves_runs_of_other_projects_to_them(
    runs: Runs, database: Database, project: str
) -> None:
    theirs = runs.start(f"other-{project}", "fit")
    set_pid(database, theirs, dead_pid())

    assert runs.reconcile(project) == []
    assert runs.get(theirs).status == "running"
    assert runs.reconcile(f"other-{project}") == [theirs]


# --- concurrency -----------------------------------------------------------------------


def test_two_processes_writing_runs_to_one_sqlite_file_both_succeed(
    tmp_path: Path, together: Together
) -> None:
    url = f"sqlite:///{tmp_path / 'prodml.db'}"
    artifacts, project = tmp_path / "artifacts", "busy"
    results = together([(WRITE_RUNS, [url, str(artifacts), project, "20"])] * 2)
    for code, stdout, stderr in results:
        assert (code, stdout.strip().splitlines()[-1]) == (0, "done"), stderr

    database = Database(url)
    try:
        listed = Runs(database, ArtifactStore(str(artifacts))).list(project)
    finally:
        database.dispose()
    assert len(listed) == 40
    assert {run.status for run in listed} == {"finished"}
    by_writer: dict[int, list[int]] = {}
    for run in listed:
        assert run.params is not None
        by_writer.setdefault(run.params["pid"], []).append(run.params["i"])
    assert len(by_writer) == 2 and os.getpid() not in by_writer
    assert [sorted(done) for done in by_writer.values()] == [list(range(20))] * 2
