"""``prodml fit`` processes that race, get killed or get interrupted, and what the store keeps.

Each test starts the real executable; every wait has a timeout and every process left
running is killed in a ``finally``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import yaml

import prodml

PRODML = Path(sys.executable).parent / "prodml"
TIMEOUT = 180  # seconds for one command to finish
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

# A model whose fit says it has begun, then takes a minute: time to kill the process.
SLOW_MODEL = """
import os
import time
from pathlib import Path

from sklearn.base import BaseEstimator, ClassifierMixin


class SlowClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        Path(os.environ["SLOW_FIT_MARKER"]).write_text("fitting", encoding="utf-8")
        time.sleep(60)
        return self

    def predict(self, X):
        raise NotImplementedError
"""

FAILING_MODEL = """
from sklearn.base import BaseEstimator, ClassifierMixin


class FailingClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        raise ValueError("these labels carry no signal")

    def predict(self, X):
        raise NotImplementedError
"""


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a command: the default store in .prodml/ unless ``extra`` says."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODML_", "FORCE_COLOR"))}
    return {**env, "NO_COLOR": "1", "COLUMNS": "120", **extra}


def start_fit(project: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(PRODML), "fit", *args],
        cwd=project,
        env=child_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def running(*processes: subprocess.Popen[str]) -> Iterator[None]:
    """Kill whichever of ``processes`` is still running when the block ends."""
    try:
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=30)


def wait_for(marker: Path, process: subprocess.Popen[str], timeout: float = 90) -> None:
    """Until the slow model's fit has begun in ``process``."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"prodml fit ended ({process.returncode}) before its fit began:\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"the fit did not begin within {timeout}s")
        time.sleep(0.05)


def new_project(folder: Path, **settings: Any) -> Path:
    """A breast-cancer project whose prodml.yaml has ``settings`` at the top level."""
    prodml.init(folder, example="breast-cancer")
    file = folder / "prodml.yaml"
    raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    file.write_text(yaml.safe_dump({**raw, **settings}, sort_keys=False), encoding="utf-8")
    return folder


pytestmark = pytest.mark.usefixtures("default_store")


def store_env(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The environment that points commands, and this process, at ``backend``'s store."""
    if backend == "sqlite":
        return {}
    url: str = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("PRODML_DATABASE_URL", url)
    return {"PRODML_DATABASE_URL": url}


@pytest.fixture
def slow_project(tmp_path: Path) -> Path:
    # the PostgreSQL database is shared by the session: a project name of its own
    project = new_project(
        tmp_path / "slow",
        project=f"slow-{uuid4().hex[:12]}",
        model={"factory": "slow.SlowClassifier"},
    )
    (project / "slow.py").write_text(SLOW_MODEL, encoding="utf-8")
    return project


# --- two fits at once --------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_fits_started_at_once_on_a_new_project_both_record_their_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    backend: str,
) -> None:
    # the PostgreSQL database is shared by the session: a project name of its own
    project = new_project(tmp_path / "race", project=f"race-{uuid4().hex[:12]}")
    env = store_env(backend, request, monkeypatch)
    assert not (project / ".prodml").exists()  # both processes create and migrate the store

    first, second = start_fit(project, "--json", **env), start_fit(project, "--json", **env)
    with running(first, second):
        outputs = [p.communicate(timeout=TIMEOUT) for p in (first, second)]

    for process, (out, err) in zip((first, second), outputs, strict=True):
        assert process.returncode == 0, err
        assert "Traceback" not in out + err
    printed = {json.loads(out)["id"] for out, _ in outputs}
    assert len(printed) == 2
    with prodml.Project(project) as api:
        runs = api.runs()
    assert {r.id for r in runs} == printed
    assert {r.status for r in runs} == {"finished"}
    assert all(r.artifact("model").sha256 for r in runs)
    assert (project / ".prodml" / "prodml.db").exists() == (backend == "sqlite")


# --- a fit that dies ---------------------------------------------------------------------


def killed_mid_fit(project: Path, marker: Path, env: dict[str, str]) -> str:
    """Start ``prodml fit`` on the slow model, kill -9 it while it fits; return its run id."""
    process = start_fit(project, SLOW_FIT_MARKER=str(marker), **env)
    with running(process):
        wait_for(marker, process)
        with prodml.Project(project) as api:
            (run,) = api.runs()
        assert (run.status, run.pid) == ("running", process.pid)
        # what a process killed while writing its artifact leaves behind
        leftover = project / ".prodml" / "artifacts" / run.id / ".model.partial"
        leftover.parent.mkdir(parents=True)
        leftover.write_bytes(b"half a model")

        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    return run.id


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_during_a_fit_leaves_no_artifact_and_the_run_is_then_failed(
    slow_project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    backend: str,
) -> None:
    env = store_env(backend, request, monkeypatch)

    run_id = killed_mid_fit(slow_project, tmp_path / "fit-began", env)
    with prodml.Project(slow_project) as api:  # opening the store reconciles it
        after = api.run(run_id)

    assert after.status == "failed"
    assert after.error is not None and "killed" in after.error
    assert after.ended_at is not None
    assert after.artifacts == ()
    assert not (slow_project / ".prodml" / "artifacts" / run_id).exists()


@pytest.mark.postgres
def test_a_run_killed_in_one_project_of_a_shared_store_loses_its_files_whoever_reconciles(
    slow_project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    env = store_env("postgresql", request, monkeypatch)
    other = new_project(tmp_path / "other", project=f"other-{uuid4().hex[:12]}")

    run_id = killed_mid_fit(slow_project, tmp_path / "fit-began", env)
    with prodml.Project(other) as api:  # another project opens the shared store first
        api.runs()
    with prodml.Project(slow_project) as api:
        assert api.run(run_id).status == "failed"

    assert not (slow_project / ".prodml" / "artifacts" / run_id).exists()


def test_sigterm_during_a_fit_exits_non_zero_and_records_the_run_as_interrupted(
    slow_project: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "fit-began"
    process = start_fit(slow_project, SLOW_FIT_MARKER=str(marker))
    with running(process):
        wait_for(marker, process)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)

    assert process.returncode not in (0, None)
    assert "Traceback" not in out + err
    with prodml.Project(slow_project) as api:
        (run,) = api.runs()
    assert run.status == "failed"
    assert run.error is not None and "interrupted" in run.error
    assert run.artifacts == ()
    assert not (slow_project / ".prodml" / "artifacts" / run.id).exists()


def test_a_fit_that_raises_is_one_error_line_and_a_failed_run(tmp_path: Path) -> None:
    project = new_project(tmp_path / "failing", model={"factory": "failing.FailingClassifier"})
    (project / "failing.py").write_text(FAILING_MODEL, encoding="utf-8")

    process = start_fit(project)
    with running(process):
        out, err = process.communicate(timeout=TIMEOUT)

    assert process.returncode == 1
    assert "Traceback" not in out + err
    (line,) = err.splitlines()
    assert line.startswith("error: fitting FailingClassifier failed: these labels carry no signal")
    with prodml.Project(project) as api:
        (run,) = api.runs()
    assert run.status == "failed"
    assert run.error is not None and "these labels carry no signal" in run.error
    assert run.artifacts == ()
