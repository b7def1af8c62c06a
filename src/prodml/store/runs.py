"""Runs: the record of every fit, search, search candidate and sanity check.

A run is written when it starts (status ``running``) and closed once: ``finished``
together with its artifacts in one transaction, or ``failed`` with the reason. A process
killed outright cannot close its run; :meth:`Runs.reconcile` later marks such runs
failed and removes any files they left.
"""

from __future__ import annotations

import builtins
import math
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from prodml.errors import NotFoundError, StoreError, did_you_mean, listing
from prodml.store.artifacts import ArtifactStore, SavedArtifact
from prodml.store.database import Database
from prodml.store.tables import (
    ArtifactRow,
    DeploymentEventRow,
    EvaluationRow,
    ModelVersionRow,
    RunRow,
)

Status = Literal["running", "finished", "failed"]
Kind = Literal["fit", "search", "candidate", "sanity", "batch"]

#: Columns a caller may fill while a run is under way or when it closes.
RECORDED = (
    "code_commit",
    "code_dirty",
    "data_source",
    "data_fingerprint",
    "data_rows",
    "split",
    "model_spec",
    "params",
    "metrics",
    "fit_seconds",
    "cpu_seconds",
    "peak_memory_bytes",
    "environment",
    "input_schema",
)

#: The history in the store's events that deleted runs are recorded in: a name no model or
#: endpoint can take (``prodml.registry.NAME`` allows no parentheses), so
#: ``Registry.events(RUN_HISTORY)`` lists them.
RUN_HISTORY = "(runs)"

#: What a run row and a Run have in common beside RECORDED (a run's parent is not copied).
_RUN_FIELDS = ("id", "project", "kind", "status", "started_at", "ended_at", "host", "pid", "error")
#: What an artifact row and a SavedArtifact have in common.
_ARTIFACT_FIELDS = ("name", "uri", "sha256", "size_bytes", "format", "format_version")


@dataclass(frozen=True)
class Run:
    """What the store knows of one run."""

    id: str
    parent_id: str | None
    project: str
    kind: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    host: str
    pid: int
    code_commit: str | None = None
    code_dirty: bool | None = None
    data_source: str | None = None
    data_fingerprint: str | None = None
    data_rows: int | None = None
    split: dict[str, Any] | None = None
    model_spec: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    fit_seconds: float | None = None
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None
    environment: dict[str, Any] | None = None
    input_schema: dict[str, Any] | None = None
    error: str | None = None
    artifacts: tuple[SavedArtifact, ...] = field(default=())

    def artifact(self, name: str) -> SavedArtifact:
        for artifact in self.artifacts:
            if artifact.name == name:
                return artifact
        raise NotFoundError(
            f"run {self.id} has no artifact '{name}' (status {self.status}); "
            f"it has: {listing(a.name for a in self.artifacts) or 'none'}"
        )


class Runs:
    """The runs of a store, and the artifacts they own."""

    def __init__(self, database: Database, artifacts: ArtifactStore) -> None:
        self.database = database
        self.artifacts = artifacts

    def start(
        self, project: str, kind: Kind, *, parent_id: str | None = None, **recorded: Any
    ) -> str:
        """Record a new running run and return its id."""
        run_id = uuid.uuid4().hex[:12]
        row = RunRow(
            id=run_id,
            parent_id=parent_id,
            project=project,
            kind=kind,
            status="running",
            started_at=utc_now(),
            host=socket.gethostname(),
            pid=os.getpid(),
            **_checked(recorded),
        )
        with self.database.session() as session:
            if parent_id is not None and session.get(RunRow, parent_id) is None:
                raise NotFoundError(f"parent run '{parent_id}' is not in the store")
            session.add(row)
        return run_id

    def record(self, run_id: str, **recorded: Any) -> None:
        """Add facts to a running run (its data, split, parameters...)."""
        with self.database.session() as session:
            row = self._running(session, run_id)
            for name, value in _checked(recorded).items():
                setattr(row, name, value)

    def finish(
        self, run_id: str, *, artifacts: tuple[SavedArtifact, ...] = (), **recorded: Any
    ) -> Run:
        """Close a run as finished, registering its artifacts in the same transaction."""
        with self.database.session() as session:
            row = self._running(session, run_id)
            for name, value in _checked(recorded).items():
                setattr(row, name, value)
            row.status, row.ended_at = "finished", utc_now()
            session.add_all(self._artifact_rows(run_id, artifacts))
        return self.get(run_id)

    def adopt(self, run: Run) -> Run:
        """Record a finished run brought from another store (``prodml models import``),
        with its id, times, facts and artifacts (files already under this store's root)."""
        with self.database.session() as session:
            if session.get(RunRow, run.id) is not None:
                raise StoreError(f"run {run.id} is already in this store; it cannot come twice")
            facts = {name: getattr(run, name) for name in _RUN_FIELDS}
            recorded = _checked({name: getattr(run, name) for name in RECORDED})
            session.add(RunRow(**facts, **recorded))
            session.flush()  # the run before the rows that refer to it
            session.add_all(self._artifact_rows(run.id, run.artifacts))
        return self.get(run.id)

    def _artifact_rows(
        self, run_id: str, artifacts: tuple[SavedArtifact, ...]
    ) -> builtins.list[ArtifactRow]:
        rows = []
        for a in artifacts:
            fields = {name: getattr(a, name) for name in _ARTIFACT_FIELDS}
            rows.append(
                ArtifactRow(
                    run_id=run_id,
                    trusted={"types": list(a.trusted)},
                    created_at=utc_now(),
                    **{**fields, "uri": self._recorded(a.uri)},
                )
            )
        return rows

    def _recorded(self, uri: str) -> str:
        """The ``uri`` kept for an artifact: relative to the artifact folder for an SQLite
        file, which moves and is copied with its project folder; whole for a shared store
        (PostgreSQL), whose rows other folders and machines read too."""
        return self.artifacts.recorded(uri) if self.database.file is not None else uri

    def fail(self, run_id: str, error: str) -> None:
        """Close a run as failed and drop any file it wrote."""
        with self.database.session() as session:
            row = self._running(session, run_id)
            row.status, row.ended_at, row.error = "failed", utc_now(), error
        self.artifacts.remove_run(run_id)

    def delete(self, ref: str, *, actor: str | None = None, reason: str | None = None) -> Run:
        """Delete a run (by id or unique prefix) with its search candidates, evaluations
        and files; refused while it runs, or while a model version is registered from it
        (its lineage). The deletion is an event of :data:`RUN_HISTORY`: who (``actor``),
        when, why, and what the run had (its model, data, metrics, artifacts' SHA-256s), in
        the transaction that deletes it. Returns the run as it was."""
        run = self.get(ref)
        with self.database.session() as session:
            row = session.get(RunRow, run.id, with_for_update=True)
            if row is None:  # deleted by another process since
                raise NotFoundError(f"run {run.id} was deleted meanwhile; nothing to delete")
            if row.status == "running":
                raise StoreError(
                    f"run {run.id} is running (pid {row.pid} on {row.host}); wait for it to "
                    "end, or stop it, before deleting it"
                )
            ids = [run.id, *session.scalars(select(RunRow.id).where(RunRow.parent_id == run.id))]
            registered = session.execute(
                select(ModelVersionRow.name, ModelVersionRow.version)
                .where(ModelVersionRow.run_id.in_(ids))
                .order_by(ModelVersionRow.name, ModelVersionRow.version)
            ).all()
            if registered:
                refs = [f"{name}:{version}" for name, version in registered]
                raise StoreError(
                    f"run {run.id} is registered as {listing(refs)}; delete the model "
                    f"versions first (prodml models delete {refs[0]}), then the run"
                )
            for table in (EvaluationRow, ArtifactRow):
                session.execute(delete(table).where(table.run_id.in_(ids)))
            session.execute(delete(RunRow).where(RunRow.parent_id == run.id))
            session.delete(row)
            session.add(
                DeploymentEventRow(
                    endpoint=RUN_HISTORY,
                    at=utc_now(),
                    action="run deleted",
                    detail=jsonable(_what_it_had(run, candidates=len(ids) - 1)),
                    actor=actor,
                    reason=reason,
                )
            )
        for run_id in ids:
            self.artifacts.remove_run(run_id)
        return run

    def get(self, ref: str) -> Run:
        """A run by id or by a unique prefix of its id."""
        with self.database.session() as session:
            rows = session.scalars(
                select(RunRow).where(RunRow.id.startswith(ref, autoescape=True)).limit(2)
            ).all()
            if len(rows) == 1:
                return self._run(session, rows[0])
            if rows:
                raise NotFoundError(f"run '{ref}' is ambiguous; give more of its id")
            known = session.scalars(
                select(RunRow.id).order_by(RunRow.started_at.desc()).limit(200)
            ).all()
        raise NotFoundError(
            f"run '{ref}' is not in the store{did_you_mean(ref, known)}; "
            "`prodml runs list` shows the runs"
        )

    def kept(self, run_id: str | None, name: str) -> Any:
        """The artifact ``name`` that run ``run_id`` kept, loaded; a NotFoundError when
        there is no such run or artifact."""
        if run_id is None:
            raise NotFoundError(f"no run, so no artifact {name!r}")
        return self.artifacts.load(self.get(run_id).artifact(name))

    def list(
        self,
        project: str | None = None,
        *,
        parent_id: str | None = None,
        top_level: bool = True,
        limit: int | None = None,
    ) -> builtins.list[Run]:
        """Runs, newest first: top-level ones by default, or the children of a run."""
        query = select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id)
        if project is not None:
            query = query.where(RunRow.project == project)
        if parent_id is not None:
            query = query.where(RunRow.parent_id == parent_id)
        elif top_level:
            query = query.where(RunRow.parent_id.is_(None))
        if limit is not None:
            query = query.limit(limit)
        with self.database.session() as session:
            return [self._run(session, row) for row in session.scalars(query).all()]

    def reconcile(self, project: str) -> builtins.list[str]:
        """Mark failed the project's running runs whose process on this host has died.

        Only the project's own runs: their files are under this store's artifact folder,
        and another project sharing the database cleans up its own.
        """
        host = socket.gethostname()
        with self.database.session() as session:
            rows = session.scalars(
                select(RunRow).where(
                    RunRow.status == "running", RunRow.host == host, RunRow.project == project
                )
            ).all()
            dead = [row.id for row in rows if not _alive(row.pid)]
        for run_id in dead:
            self.fail(run_id, "the process ended without closing the run (killed or crashed)")
        return dead

    @staticmethod
    def _running(session: Session, run_id: str) -> RunRow:
        row = session.get(RunRow, run_id)
        if row is None or row.status != "running":
            state = "missing" if row is None else row.status
            raise StoreError(f"run {run_id} is {state}, not running; it cannot be changed")
        return row

    def _run(self, session: Session, row: RunRow) -> Run:
        artifacts = session.scalars(
            select(ArtifactRow).where(ArtifactRow.run_id == row.id).order_by(ArtifactRow.id)
        ).all()
        return as_run(
            row,
            tuple(
                SavedArtifact(
                    trusted=tuple(a.trusted.get("types", ())),
                    **{
                        **{name: getattr(a, name) for name in _ARTIFACT_FIELDS},
                        "uri": self.artifacts.resolved(a.uri, row.id),
                    },
                )
                for a in artifacts
            ),
        )


def as_run(row: RunRow, artifacts: tuple[SavedArtifact, ...] = ()) -> Run:
    """The run of ``row``, with ``artifacts`` (none: a page of runs does not show them)."""
    return Run(
        id=row.id,
        parent_id=row.parent_id,
        project=row.project,
        kind=row.kind,
        status=row.status,
        started_at=as_utc(row.started_at) or row.started_at,
        ended_at=as_utc(row.ended_at),
        host=row.host,
        pid=row.pid,
        error=row.error,
        artifacts=artifacts,
        **{name: getattr(row, name) for name in RECORDED},
    )


def _what_it_had(run: Run, candidates: int) -> dict[str, Any]:
    """What the event of a run's deletion keeps of it: enough to say what was lost.

    Its metrics are summed up by those on the test split, when it has any.
    """
    metrics = run.metrics or {}
    tested = {k: v for k, v in metrics.items() if k.startswith("test.")}
    return {
        "run": run.id,
        "project": run.project,
        "kind": run.kind,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "model": run.model_spec,
        "params": run.params,
        "data": run.data_source,
        "data_fingerprint": run.data_fingerprint,
        "metrics": tested or metrics,
        "artifacts": {a.name: a.sha256 for a in run.artifacts},
        "candidates": candidates,
    }


def _checked(recorded: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(recorded) - set(RECORDED))
    if unknown:
        raise TypeError(f"runs cannot record {unknown}; recordable: {RECORDED}")
    return {
        name: jsonable(value) if name in _JSON_FIELDS else value for name, value in recorded.items()
    }


_JSON_FIELDS = {"split", "model_spec", "params", "metrics", "environment", "input_schema"}


def jsonable(value: Any) -> Any:
    """``value`` as JSON (and PostgreSQL's JSON) can hold it.

    NaN and infinities become None; numpy scalars become numbers; a nested estimator
    becomes its class name (its own parameters are listed beside it).

    >>> import numpy as np
    >>> jsonable({"a": float("nan"), "b": np.int64(3), "c": (1, 2.5)})
    {'a': None, 'b': 3, 'c': [1, 2.5]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "get_params"):
        return type(value).__name__  # a nested estimator: its own parameters are listed too
    if hasattr(value, "item"):
        return jsonable(value.item())  # numpy scalars
    return repr(value)[:200]


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)  # SQLite hands back naive datetimes


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
