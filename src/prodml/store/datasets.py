"""Datasets: what data each run used, by content fingerprint (its provenance).

A data set is recorded once, the first time a run uses it: its source, row count, schema
and the schema's hash. Runs point at it through their ``data_fingerprint``, so two runs on
the same content share one record whatever the file was called.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from prodml.errors import NotFoundError, StoreError, listing
from prodml.store.database import Database
from prodml.store.runs import as_utc, jsonable, utc_now
from prodml.store.tables import DatasetRow


@dataclass(frozen=True)
class Dataset:
    """The record of one data set's content."""

    fingerprint: str
    source: str
    rows: int
    schema_hash: str
    schema: dict[str, Any]
    first_seen: datetime


class Datasets:
    """The data sets of a store."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def record(
        self, fingerprint: str, *, source: str, rows: int, schema: dict[str, Any], schema_hash: str
    ) -> Dataset:
        """Record a data set unless its content is known already; return its record."""
        values = {
            "fingerprint": fingerprint,
            "source": source,
            "rows": rows,
            "schema_hash": schema_hash,
            "schema": jsonable(schema),
            "first_seen": utc_now(),
        }
        dialect = postgresql if self.database.engine.dialect.name == "postgresql" else sqlite
        with self.database.session() as session:
            session.execute(dialect.insert(DatasetRow).values(**values).on_conflict_do_nothing())
        return self.get(fingerprint)

    def get(self, ref: str) -> Dataset:
        """A data set by its fingerprint, or a unique prefix of it."""
        with self.database.session() as session:
            rows = session.scalars(
                select(DatasetRow).where(DatasetRow.fingerprint.startswith(ref)).limit(5)
            ).all()
            if not rows:
                raise NotFoundError(
                    f"no data set with fingerprint '{ref}' in the store; `prodml runs show` "
                    "gives a run's data fingerprint"
                )
            if len(rows) > 1:
                raise StoreError(
                    f"fingerprint prefix '{ref}' matches several data sets: "
                    f"{listing(r.fingerprint[:12] for r in rows)}; give more characters"
                )
            row = rows[0]
            return Dataset(
                fingerprint=row.fingerprint,
                source=row.source,
                rows=row.rows,
                schema_hash=row.schema_hash,
                schema=row.schema,
                first_seen=as_utc(row.first_seen) or row.first_seen,
            )
