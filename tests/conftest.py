"""Fixtures shared by the whole suite: a real PostgreSQL database, and a URL per backend.

PostgreSQL tests share one database per session, so a test must not assume it is empty:
give each test its own project name (``uuid4().hex``) and filter by it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from prodml.registry import Registry
from prodml.store.artifacts import ArtifactStore
from prodml.store.database import Database
from prodml.store.runs import Runs
from prodml.store.scratch import scratch_database

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the server, so ``-m "not postgres"`` leaves none behind."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "postgres_url" in names or "own_postgres_url" in names:
            item.add_marker(pytest.mark.postgres)


@contextlib.contextmanager
def fresh_postgres() -> Iterator[str]:
    """A fresh, empty database on the PostgreSQL server, dropped on the way out."""
    if os.environ.get("PRODML_SKIP_POSTGRES") == "1":
        pytest.skip("PRODML_SKIP_POSTGRES=1: PostgreSQL tests are skipped")
    server = make_url(os.environ.get("PRODML_TEST_POSTGRES", DEFAULT_SERVER))
    with contextlib.ExitStack() as stack:
        unreachable = None
        try:
            url = stack.enter_context(scratch_database(server, "prodml_test_"))
        except OperationalError as exc:
            unreachable = exc.orig
        if unreachable is not None:
            # Failed, not skipped: a suite that quietly skips its PostgreSQL half looks green.
            pytest.fail(
                f"cannot reach the PostgreSQL server at {server!r} to create a test database "
                f"({unreachable}); start it, point PRODML_TEST_POSTGRES at one, or set "
                "PRODML_SKIP_POSTGRES=1 to skip these tests",
                pytrace=False,
            )
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of the session's own on the PostgreSQL server (tests share it)."""
    with fresh_postgres() as url:
        yield url


@pytest.fixture
def own_postgres_url() -> Iterator[str]:
    """A database of this test's own: servers that load every endpoint see only its."""
    with fresh_postgres() as url:
        yield url


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    ids=["sqlite", "postgresql"],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An SQLite file in ``tmp_path``, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'prodml.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


#: Runs Python scripts in fresh processes released at once: (script, argv) pairs in,
#: (exit code, stdout, stderr) out.
Together = Callable[[list[tuple[str, list[str]]]], list[tuple[int, str, str]]]


@pytest.fixture
def together(tmp_path: Path) -> Together:
    """Start scripts in new processes, release them together, wait for all of them.

    Each script gets a "go" file as its last argument; it prints ``ready``, waits for
    the file, then does its work. Starting Python takes seconds here, so without the
    gate the processes would not really overlap.
    """

    def run(scripts: list[tuple[str, list[str]]]) -> list[tuple[int, str, str]]:
        go = tmp_path / f"go-{uuid4().hex}"
        children = [
            subprocess.Popen(
                [sys.executable, "-c", script, *argv, str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for script, argv in scripts
        ]
        try:
            for child in children:
                assert child.stdout is not None
                assert child.stdout.readline().strip() == "ready", child.stderr
            go.touch()
            results = [child.communicate(timeout=120) for child in children]
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.communicate()
        return [
            (child.returncode, out, err)
            for child, (out, err) in zip(children, results, strict=True)
        ]

    return run


@pytest.fixture
def runs(database_url: str, tmp_path: Path) -> Iterator[Runs]:
    """The run store of ``database_url``, its artifacts in ``tmp_path``."""
    database = Database(database_url)
    yield Runs(database, ArtifactStore(str(tmp_path / "artifacts")))
    database.dispose()


@pytest.fixture
def registry(runs: Runs) -> Registry:
    return Registry(runs)


@pytest.fixture
def name() -> str:
    """A model name of this test alone (the PostgreSQL database is shared by the session)."""
    return f"model-{uuid4().hex}"


@pytest.fixture
def default_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python API in this process uses the project's own store, as the commands do."""
    monkeypatch.delenv("PRODML_DATABASE_URL", raising=False)
    monkeypatch.delenv("PRODML_ARTIFACTS_URL", raising=False)
