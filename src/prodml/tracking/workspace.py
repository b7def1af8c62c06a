"""What tracked work needs from a project: its name, folder and runs."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodml.config import ModelSpec
from prodml.data.dataset import Dataset
from prodml.data.schema import infer_schema
from prodml.store.database import Database
from prodml.store.datasets import Datasets
from prodml.store.runs import Kind, Runs
from prodml.tracking.environment import code_version, environment


@dataclass(frozen=True)
class Workspace:
    """A project as seen by tracked work."""

    name: str
    root: Path
    runs: Runs

    @contextlib.contextmanager
    def tracked(
        self, kind: Kind, data: Dataset, spec: ModelSpec, *, parent_id: str | None = None
    ) -> Iterator[str]:
        """A run of a model on a data set, recorded as failed if the block raises (or is
        interrupted). A top-level run also records its data set (provenance)."""
        if parent_id is None:
            record_dataset(self.runs.database, data)
        with self.recorded(
            kind,
            parent_id=parent_id,
            data_source=data.source,
            data_fingerprint=data.fingerprint,
            data_rows=len(data.frame),
            model_spec=spec.model_dump(mode="json"),
            environment=environment(None if ":" in spec.factory else spec.factory),
        ) as run_id:
            yield run_id

    @contextlib.contextmanager
    def recorded(
        self, kind: Kind, *, parent_id: str | None = None, **recorded: Any
    ) -> Iterator[str]:
        """A run with the code version and ``recorded``, failed if the block raises."""
        commit, dirty = code_version(self.root)
        run_id = self.runs.start(
            self.name, kind, parent_id=parent_id, code_commit=commit, code_dirty=dirty, **recorded
        )
        try:
            yield run_id
        except BaseException as exc:
            self.runs.fail(run_id, _reason(exc))
            raise


def record_dataset(database: Database, data: Dataset) -> None:
    """Record the data set in the store's datasets (by fingerprint), with its schema."""
    schema = infer_schema(data.frame)
    Datasets(database).record(
        data.fingerprint,
        source=data.source,
        rows=len(data.frame),
        schema=schema.to_dict(),
        schema_hash=schema.hash(),
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt or SIGTERM)"
    last = traceback.format_exception(exc)[-3:]
    return f"{type(exc).__name__}: {exc}\n" + "".join(last)
