"""`Datasets`: one record per data set content, whoever records it first, on both backends."""

from __future__ import annotations

import hashlib
from uuid import uuid4

import pytest

from prodml.errors import NotFoundError, StoreError
from prodml.store.database import Database
from prodml.store.datasets import Datasets


def fingerprint() -> str:
    return hashlib.sha256(uuid4().bytes).hexdigest()


SCHEMA = {"columns": [{"name": "income", "kind": "number", "missing_share": float("nan")}]}


def test_a_data_set_is_recorded_once_and_found_by_prefix(database: Database) -> None:
    datasets = Datasets(database)
    key = fingerprint()
    first = datasets.record(key, source="data/a.csv", rows=10, schema=SCHEMA, schema_hash="h1")
    again = datasets.record(key, source="data/copy.parquet", rows=10, schema={}, schema_hash="h2")

    assert again == first  # the content was known: its first record stands
    assert first.source == "data/a.csv" and first.rows == 10 and first.schema_hash == "h1"
    assert first.schema == {
        "columns": [{"name": "income", "kind": "number", "missing_share": None}]
    }
    assert first.first_seen.tzinfo is not None
    assert datasets.get(key[:10]) == first


def test_unknown_and_ambiguous_prefixes_are_explained(database: Database) -> None:
    datasets = Datasets(database)
    with pytest.raises(NotFoundError, match="no data set with fingerprint 'ffff0000'"):
        datasets.get("ffff0000")
    shared = uuid4().hex[:8]
    for _ in range(2):
        datasets.record(shared + fingerprint()[8:], source="s", rows=1, schema={}, schema_hash="h")
    with pytest.raises(StoreError, match=f"prefix '{shared}' matches several data sets"):
        datasets.get(shared)
