"""``prodml --version``, ``prodml store current`` and ``prodml store upgrade`` (Palladium's
``upgrade``): the store's migration shown and run on request; an older store migrated by
the commands that write and refused, unchanged, by those that only read; a store made by a
newer prodml refused by every command in one line that says so."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterator
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

import prodml
from prodml.cli import app
from prodml.config import load_settings
from prodml.errors import StoreError
from prodml.store.artifacts import ArtifactStore
from prodml.store.database import Database
from prodml.store.runs import Runs

runner = CliRunner()
#: the migrations shipped, from their files: the newest, and those after 0011
SHIPPED = sorted(
    path.name[:4]
    for path in (Path(prodml.__file__).parent / "store" / "migrations" / "versions").glob(
        "[0-9][0-9][0-9][0-9]_*.py"
    )
)
HEAD, AFTER_0011 = SHIPPED[-1], [revision for revision in SHIPPED if revision > "0011"]
#: two migrations before the newest: where the older stores of these tests are left
OLDER = SHIPPED[-3]
#: commands that only read the store, each with the arguments it needs
READERS = (
    ("runs", "list"),
    ("runs", "show", "0123abcd"),
    ("models", "list"),
    ("deployments", "show"),
    ("monitor", "report"),
    ("alerts", "list"),
    ("review", "list"),
    ("log", "stats"),
    ("keys", "list"),
    ("automation", "bc"),
)

pytestmark = pytest.mark.usefixtures("default_store")


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def at_revision(url: str, revision: str) -> None:
    """Migrate a new database only up to ``revision``, as an older prodml left it."""
    Path(url.removeprefix("sqlite:///")).parent.mkdir(exist_ok=True)
    alembic(command.upgrade, url, revision)


def alembic(step: Any, url: str, revision: str) -> None:
    """Run alembic's ``step`` (upgrade, downgrade) to ``revision`` with the package's
    migration scripts."""
    engine = create_engine(url)
    with engine.connect() as conn:
        config = Config()
        config.set_main_option(
            "script_location", str(resources.files("prodml.store") / "migrations")
        )
        config.attributes["connection"] = conn
        step(config, revision)
        conn.commit()
    engine.dispose()


def revision(url: str) -> str | None:
    """The migration the store at ``url`` is at, looked at without changing it."""
    database = Database(url, migrate=False)
    try:
        return database.revision()
    finally:
        database.dispose()


def stamped(url: str, revision: str) -> None:
    """Mark a migrated database as being at ``revision`` (a newer prodml's migration)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return prodml.init(tmp_path / "bc", example="breast-cancer")


def store_url(project: Path) -> str:
    return f"sqlite:///{project / '.prodml' / 'prodml.db'}"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    ids=["sqlite", "postgresql"],
)
def url(
    request: pytest.FixtureRequest,
    project: Path,
    default_store: None,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """The project's store: its SQLite file, or a PostgreSQL database of its own given by
    PRODML_DATABASE_URL; nothing is created yet."""
    if request.param == "sqlite":
        return store_url(project)
    postgres: str = request.getfixturevalue("own_postgres_url")
    monkeypatch.setenv("PRODML_DATABASE_URL", postgres)
    return postgres


def refusal(url: str) -> str:
    """What a reading command says of the store at ``url`` left at OLDER."""
    shown = make_url(url).render_as_string(hide_password=True)
    behind = len(SHIPPED) - SHIPPED.index(OLDER) - 1
    return (
        f"error: the store at {shown} is at migration {OLDER} and this prodml needs {HEAD} "
        f"({behind} migrations behind): run `prodml store upgrade` (back up first), or use "
        "the prodml that made it"
    )


def refused(project: Path, url: str) -> None:
    """Every reading command stops on the older store with one line, and leaves it as it is."""
    for args in READERS:
        result = invoke(*args, "-C", str(project))
        assert result.exit_code == 1, (args, result.output)
        assert [" ".join(result.stderr.split())] == [refusal(url)], args
        assert revision(url) == OLDER, args


def test_version_prints_the_installed_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"prodml {version('prodml')}\n"


def test_current_lists_the_migrations_an_older_store_lacks_without_running_them(
    project: Path,
) -> None:
    at_revision(store_url(project), "0011")
    result = invoke("store", "current", "-C", str(project), "--json")
    assert result.exit_code == 0, result.output
    state = json.loads(result.stdout)
    assert (state["current"], state["head"], state["newer"]) == ("0011", HEAD, False)
    assert [m["revision"] for m in state["pending"]] == AFTER_0011
    assert state["pending"][0]["doc"].startswith("Who decided a logged prediction")
    table = invoke("store", "current", "-C", str(project)).stdout
    assert f"at     0011; {len(AFTER_0011)} migrations to the newest, {HEAD}" in table
    assert "prodml store upgrade" in table
    database = Database(store_url(project), migrate=False)
    assert database.revision() == "0011"  # looking changed nothing
    database.dispose()


def test_upgrade_runs_the_missing_migrations_once(project: Path) -> None:
    at_revision(store_url(project), "0011")
    result = invoke("store", "upgrade", "-C", str(project), "--json")
    assert result.exit_code == 0, result.output
    upgraded = json.loads(result.stdout)
    assert (upgraded["from"], upgraded["to"]) == ("0011", HEAD)
    assert [m["revision"] for m in upgraded["applied"]] == AFTER_0011
    again = invoke("store", "upgrade", "-C", str(project))
    assert again.stdout == f"The store is at {HEAD}, the newest; nothing to run.\n"
    assert (
        json.loads(invoke("store", "current", "-C", str(project), "--json").stdout)["pending"] == []
    )


def test_an_older_store_stops_the_reading_commands_until_a_writing_one_migrates_it(
    project: Path, url: str
) -> None:
    assert invoke("fit", "-C", str(project)).exit_code == 0
    alembic(command.downgrade, url, OLDER)
    refused(project, url)
    fitted = invoke("fit", "-C", str(project))
    assert fitted.exit_code == 0, fitted.output
    assert revision(url) == HEAD
    runs = invoke("runs", "list", "-C", str(project), "--json")
    assert runs.exit_code == 0, runs.output
    assert [run["status"] for run in json.loads(runs.stdout)] == ["finished", "finished"]


def test_store_upgrade_lets_the_reading_commands_through(project: Path, url: str) -> None:
    Database(url).dispose()
    alembic(command.downgrade, url, OLDER)
    refused(project, url)
    upgraded = invoke("store", "upgrade", "-C", str(project), "--json")
    assert upgraded.exit_code == 0, upgraded.output
    assert json.loads(upgraded.stdout)["from"] == OLDER
    for args in (("runs", "list"), ("models", "list"), ("alerts", "list"), ("log", "stats")):
        result = invoke(*args, "-C", str(project))
        assert result.exit_code == 0, (args, result.output)
    assert invoke("runs", "list", "-C", str(project), "--json").stdout == "[]\n"


def test_a_reading_command_creates_a_new_store_at_the_newest_migration(
    project: Path, url: str
) -> None:
    assert revision(url) is None
    result = invoke("runs", "list", "-C", str(project), "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout == "[]\n"
    assert revision(url) == HEAD


def test_a_read_only_postgresql_role_reads_a_current_store_and_is_told_to_upgrade_an_older_one(
    project: Path, own_postgres_url: str, default_store: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(own_postgres_url)
    # a run whose process died without closing it: a writer would mark it failed
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = load_settings(project).project
    run_id = Runs(database, ArtifactStore(str(project / "runs"))).start(name, "fit")
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE runs SET pid = :p WHERE id = :i"), {"p": dead.pid, "i": run_id})
    database.dispose()
    with reader_role(own_postgres_url) as reader:
        monkeypatch.setenv("PRODML_DATABASE_URL", reader)
        listed = invoke("runs", "list", "-C", str(project), "--json")
        assert listed.exit_code == 0, listed.output
        assert [(r["id"], r["status"]) for r in json.loads(listed.stdout)] == [(run_id, "running")]
        alembic(command.downgrade, own_postgres_url, OLDER)
        refused(project, reader)
        for writer in (("fit",), ("store", "upgrade")):  # they migrate: the role may not
            result = invoke(*writer, "-C", str(project))
            assert result.exit_code == 1, result.output
            assert re.fullmatch(
                rf"error: cannot migrate the store at \S+{reader.rsplit('@')[-1]} from "
                rf"{OLDER} to {HEAD}: (must be owner of table|permission denied for schema) \w+; "
                r"run `prodml store upgrade` "
                r"as a role that may change its schema \(e\.g\. its owner\)",
                " ".join(result.stderr.split()),
            ), result.stderr
        assert revision(own_postgres_url) == OLDER


@contextlib.contextmanager
def reader_role(url: str) -> Iterator[str]:
    """``url`` as a new role that may only read (SELECT on every table), dropped after."""
    role = f"prodml_reader_{uuid4().hex[:12]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
    try:
        yield make_url(url).set(username=role).render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
                {"r": role},
            )
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        engine.dispose()


def test_a_store_made_by_a_newer_prodml_stops_every_command_with_one_line(
    project: Path,
) -> None:
    Database(store_url(project)).dispose()
    stamped(store_url(project), "0999")
    for args in (("runs", "list"), ("store", "upgrade")):
        result = invoke(*args, "-C", str(project))
        assert result.exit_code == 1, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1
        assert re.fullmatch(
            r"error: the database at sqlite:///.*prodml\.db is at migration 0999, which this "
            rf"prodml does not know \(its newest is {HEAD}\): a newer prodml made it; upgrade "
            r"prodml \(pip install -U prodml\) to open it, or point PRODML_DATABASE_URL at "
            r"another store",
            " ".join(lines[0].split()),
        ), lines[0]
    state = json.loads(invoke("store", "current", "-C", str(project), "--json").stdout)
    assert (state["current"], state["newer"], state["pending"]) == ("0999", True, [])
    shown = " ".join(invoke("store", "current", "-C", str(project)).stdout.split())
    assert f"0999, a migration this prodml does not know (its newest is {HEAD})" in shown


def test_a_postgresql_store_made_by_a_newer_prodml_is_refused(own_postgres_url: str) -> None:
    Database(own_postgres_url).dispose()
    stamped(own_postgres_url, "0999")
    with pytest.raises(StoreError, match=r"is at migration 0999, which this prodml does not"):
        Database(own_postgres_url)
    database = Database(own_postgres_url, migrate=False)
    assert database.migrations().newer
    database.dispose()


def test_store_help_says_what_the_commands_do() -> None:
    result = invoke("store", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Commands that write (fit, serve, monitor, deploy, ui...) bring the store" in text
    assert "commands that only read (runs list, models show, monitor report...) never" in text
    assert "prodml store upgrade" in text
