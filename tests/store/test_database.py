"""`Database`: migrated on open under a lock, SQLite in WAL mode, and the errors users see."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest
from alembic import command
from sqlalchemy import inspect, text

from prodml.errors import StoreError
from prodml.store.database import Database

if TYPE_CHECKING:
    from tests.conftest import Together

HEAD = "0017"

#: A child process that opens a store as soon as the parent creates the "go" file, so
#: that every child reaches the migration at the same moment.
OPEN_STORE = """
import os, pathlib, sys, time
from prodml.store.database import Database
url, go = sys.argv[1], pathlib.Path(sys.argv[-1])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
database = Database(url)
print(database.revision(), flush=True)
database.dispose()
# The package's interpreter shutdown is slow (seconds); nothing is left to clean up.
os._exit(0)
"""


def open_together(together: Together, url: str) -> list[str]:
    """Open ``url`` from two fresh processes at once; return what each printed."""
    results = together([(OPEN_STORE, [url])] * 2)
    for code, _, stderr in results:
        assert code == 0, stderr
    return [stdout.strip() for _, stdout, _ in results]


@contextlib.contextmanager
def opened(url: str) -> Iterator[Database]:
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()


def table_names(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names())


def version_rows(database: Database) -> list[str]:
    with database.engine.connect() as conn:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


# --- migrations ------------------------------------------------------------------------


def test_new_database_is_migrated_to_head_revision(database_url: str) -> None:
    with opened(database_url) as database:
        assert database.revision() == HEAD
        assert {"runs", "artifacts", "alembic_version"} <= table_names(database)
        assert version_rows(database) == [HEAD]


def test_opening_a_migrated_database_again_runs_no_migration(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with opened(database_url):
        pass

    def upgrade(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a database at head was migrated again")

    monkeypatch.setattr(command, "upgrade", upgrade)
    with opened(database_url) as database:
        assert database.revision() == HEAD
        assert version_rows(database) == [HEAD]


def test_new_database_is_migrated_once_to_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_upgrade = command.upgrade

    def upgrade(config: Any, revision: str, **kwargs: Any) -> None:
        calls.append(revision)
        real_upgrade(config, revision, **kwargs)

    monkeypatch.setattr(command, "upgrade", upgrade)
    with opened(f"sqlite:///{tmp_path / 'prodml.db'}") as database:
        assert database.revision() == HEAD
    assert calls == ["head"]


def test_sqlite_database_is_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    file = tmp_path / "prodml.db"
    with opened(f"sqlite:///{file}") as database, database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    # WAL is a property of the file: a plain connection sees it too.
    with contextlib.closing(sqlite3.connect(file)) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_sqlite_database_in_a_missing_folder_creates_the_folder(tmp_path: Path) -> None:
    file = tmp_path / "nested" / ".prodml" / "prodml.db"
    with opened(f"sqlite:///{file}") as database:
        assert database.revision() == HEAD
    assert file.is_file()


# --- concurrent opens ------------------------------------------------------------------


def test_two_processes_opening_a_new_sqlite_store_at_once_both_succeed(
    tmp_path: Path, together: Together
) -> None:
    url = f"sqlite:///{tmp_path / 'prodml.db'}"
    assert open_together(together, url) == [HEAD, HEAD]
    with opened(url) as database:
        assert version_rows(database) == [HEAD]


@pytest.mark.postgres
def test_two_processes_opening_a_fresh_postgresql_schema_at_once_both_succeed(
    fresh_schema_url: str, together: Together
) -> None:
    assert open_together(together, fresh_schema_url) == [HEAD, HEAD]
    with opened(fresh_schema_url) as database:
        assert version_rows(database) == [HEAD]
        assert {"runs", "artifacts"} <= table_names(database)


@pytest.mark.postgres
def test_two_processes_opening_a_migrated_postgresql_database_both_succeed(
    postgres_url: str, together: Together
) -> None:
    with opened(postgres_url):
        pass
    assert open_together(together, postgres_url) == [HEAD, HEAD]
    with opened(postgres_url) as database:
        assert version_rows(database) == [HEAD]


# --- errors ----------------------------------------------------------------------------


def test_unwritable_sqlite_folder_gives_store_error() -> None:
    with pytest.raises(StoreError, match=r"cannot create the folder for the database"):
        Database("sqlite:////proc/no-such-folder/prodml.db")


def test_file_that_is_not_a_database_gives_store_error(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("these are notes, not a database\n" * 100)
    with pytest.raises(StoreError, match=r"file is not a database"):
        Database(f"sqlite:///{not_a_database}")


def test_url_that_is_not_a_url_gives_store_error_naming_it() -> None:
    with pytest.raises(StoreError, match=r"database URL 'not a url' is not an SQLAlchemy URL"):
        Database("not a url")


def test_url_with_unknown_driver_gives_store_error_saying_what_to_install() -> None:
    with pytest.raises(
        StoreError, match=r"database URL 'nosuchdb://host/db' needs a driver that is not installed"
    ):
        Database("nosuchdb://host/db")


def test_unreachable_postgresql_gives_store_error_without_the_password() -> None:
    url = "postgresql+psycopg://postgres:secret@127.0.0.1:1/prodml"
    with pytest.raises(StoreError) as caught:
        Database(url)
    message = str(caught.value)
    shown = re.escape("postgresql+psycopg://postgres:***@127.0.0.1:1/prodml")
    assert re.match(rf"cannot open the database at {shown}: ", message)
    assert "check that the server runs" in message
    assert "secret" not in message


@pytest.mark.postgres
def test_missing_postgresql_database_gives_store_error(postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + f"/prodml_missing_{uuid4().hex}"
    with pytest.raises(StoreError, match=r"cannot open the database at .*does not exist"):
        Database(missing)


def test_a_reading_session_does_not_wait_for_a_writer_on_sqlite(tmp_path: Path) -> None:
    """A server polls the store every second while the prediction log writes: the poll
    must not queue for the write lock (SQLite's busy handler sleeps in steps of up to
    100 ms), while a writing session does."""
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    writer = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # holds the write lock
    wrote = threading.Event()

    def write() -> None:
        with database.session() as session:
            session.execute(text("select count(*) from runs"))
        wrote.set()

    thread = threading.Thread(target=write)
    try:
        started = time.perf_counter()
        with database.reading() as session:
            assert session.execute(text("select count(*) from runs")).scalar_one() == 0
        assert time.perf_counter() - started < 1.0
        thread.start()
        assert not wrote.wait(1.0)  # a writing session waits for the lock
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        thread.join(timeout=30)
        database.dispose()
    assert wrote.is_set()
