"""A database of its own on a PostgreSQL server, for one test session or one benchmark:
created empty, dropped on the way out (its connections ended first, so a server that is
still connected cannot keep it). The test suite and the prediction-log benchmark both
take their PostgreSQL stores from here.

    with scratch_database("postgresql+psycopg://postgres@127.0.0.1:5432/postgres") as url:
        Database(url)  # an empty store, gone after the block
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from sqlalchemy import URL, create_engine, make_url, text


@contextlib.contextmanager
def scratch_database(server: str | URL, prefix: str = "prodml_scratch_") -> Iterator[str]:
    """A new, empty database on the PostgreSQL ``server`` (an SQLAlchemy URL), named
    ``prefix`` and 16 random hex digits; its URL (password included, for the processes
    it is handed to). Creating it raises SQLAlchemy's ``OperationalError`` when the server
    cannot be reached."""
    name = f"{prefix}{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name"
                    ),
                    {"name": name},
                )
                conn.execute(text(f'DROP DATABASE "{name}"'))
    finally:
        admin.dispose()
