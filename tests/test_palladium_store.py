"""``prodml --version``, ``prodml store current`` and ``prodml store upgrade`` (Palladium's
``upgrade``): the store's migration shown and run on request, and a store made by a newer
prodml refused by every command in one line that says so."""

from __future__ import annotations

import json
import re
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

import prodml
from prodml.cli import app
from prodml.errors import StoreError
from prodml.store.database import Database

runner = CliRunner()
#: the migrations shipped, from their files: the newest, and those after 0011
SHIPPED = sorted(
    path.name[:4]
    for path in (Path(prodml.__file__).parent / "store" / "migrations" / "versions").glob(
        "[0-9][0-9][0-9][0-9]_*.py"
    )
)
HEAD, AFTER_0011 = SHIPPED[-1], [revision for revision in SHIPPED if revision > "0011"]

pytestmark = pytest.mark.usefixtures("default_store")


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def at_revision(url: str, revision: str) -> None:
    """Migrate a new database only up to ``revision``, as an older prodml left it."""
    Path(url.removeprefix("sqlite:///")).parent.mkdir(exist_ok=True)
    engine = create_engine(url)
    with engine.connect() as conn:
        config = Config()
        config.set_main_option(
            "script_location", str(resources.files("prodml.store") / "migrations")
        )
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()
    engine.dispose()


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
    assert "Every command brings the store to the newest migration when it opens it" in text
    assert "prodml store upgrade" in text
