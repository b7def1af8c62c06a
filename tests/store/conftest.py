"""Fixtures of the store tests: an opened database, its runs, and empty databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from prodml.store.artifacts import ArtifactStore
from prodml.store.database import Database
from prodml.store.runs import Runs


def new_schema(postgres_url: str) -> str:
    """The PostgreSQL database seen through a new empty schema (its search_path)."""
    schema = f"s_{uuid4().hex}"
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def fresh_schema_url(postgres_url: str) -> str:
    """The session database, seen through a new empty schema."""
    return new_schema(postgres_url)


@pytest.fixture
def empty_database_url(database_url: str) -> str:
    """A database with no tables yet: the SQLite file, or a new PostgreSQL schema."""
    if make_url(database_url).get_backend_name() == "sqlite":
        return database_url
    return new_schema(database_url)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def artifacts_root(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def runs(database: Database, artifacts_root: Path) -> Runs:
    return Runs(database, ArtifactStore(str(artifacts_root)))


@pytest.fixture
def project() -> str:
    """A project name of this test alone: the PostgreSQL database is shared."""
    return f"project-{uuid4().hex}"
