"""The model registry: named, numbered versions of finished runs, and the endpoints serving them.

A version records where it came from (its run, the data's fingerprint, the input schema,
the latest evaluation and its audit verdict). The first version of a name also opens an
endpoint of that name serving it, when its audit passed, so an evaluated fit can be served
at once; every later change of an endpoint goes through :mod:`prodml.deploy.changes`, each
a new revision and an event.

>>> import tempfile
>>> from prodml.store.artifacts import ArtifactStore
>>> from prodml.store.database import Database
>>> from prodml.store.runs import Runs
>>> folder = tempfile.mkdtemp()
>>> runs = Runs(Database(f"sqlite:///{folder}/prodml.db"), ArtifactStore(f"{folder}/files"))
>>> run_id = runs.start("demo", "fit")
>>> run = runs.finish(run_id, artifacts=(runs.artifacts.save(run_id, "model", {"w": 2}),))
>>> registry = Registry(runs)
>>> registry.register(run, "demo").ref, registry.register(run, "demo").ref
('demo:1', 'demo:2')
>>> registry.get("demo:1").version, registry.get("demo:latest").version
(1, 2)
>>> [event.action for event in registry.events("demo")]
['registered', 'registered']
>>> registry.deployments()  # demo:1 was never evaluated, so no endpoint serves it
[]
>>> registry.get("demo").version  # so the name means the newest
2
>>> runs.database.dispose()
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, cast, get_args

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError as UniqueViolation
from sqlalchemy.orm import Session

from prodml.errors import (
    ConfigError,
    DeploymentError,
    NotFoundError,
    StoreError,
    did_you_mean,
    listing,
    shortened,
)
from prodml.store.evaluations import Evaluation, Evaluations
from prodml.store.runs import Run, Runs, as_utc, jsonable, utc_now
from prodml.store.tables import DeploymentEventRow, DeploymentRow, ModelVersionRow

#: Run kinds that keep a model.
MODEL_KINDS = ("fit", "search")

#: A model name is also an endpoint's name, and so a part of URLs.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")

#: Registrations that lost a race for a version number try again this many times.
_ATTEMPTS = 50


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model, with its lineage."""

    name: str
    version: int
    run_id: str
    project: str
    created_at: datetime
    data_fingerprint: str | None
    input_schema: dict[str, Any] | None
    evaluation_id: str | None
    audit_passed: bool | None

    @property
    def ref(self) -> str:
        """``name:version``, what :meth:`Registry.get` takes back."""
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class Deletion:
    """A deleted version, and its run: deleted with it (``run``), or kept because other
    versions come from it (``kept_for``) or because the caller asked to keep it (neither)."""

    version: ModelVersion
    run: Run | None
    kept_for: tuple[str, ...]


#: How a candidate is served beside the primary: a copy of the traffic (``shadow``), a
#: share of it (``canary``), or none until it is promoted (``blue-green``).
Mode = Literal["shadow", "canary", "blue-green"]
MODES: tuple[Mode, ...] = get_args(Mode)


@dataclass(frozen=True)
class Candidate:
    """The version an endpoint tries beside its primary.

    ``share`` is a percentage: of requests copied to a shadow, of requests a canary
    answers (its ramp's current step), 0 for blue-green. ``plan`` holds how it goes on:
    a canary's ``ramp`` (percentages), ``step_seconds`` and ``min_requests``; a shadow's
    ``sample``.
    """

    version: int
    mode: Mode
    share: float
    plan: dict[str, Any]
    ramp_step: int | None
    step_started_at: datetime | None


@dataclass(frozen=True)
class Deployment:
    """An endpoint: the version of its model it serves as primary, a candidate beside it,
    and the primary before this one (what a rollback brings back)."""

    endpoint: str
    name: str
    primary: int
    revision: int
    updated_at: datetime
    candidate: Candidate | None = None
    previous: int | None = None
    automation: dict[str, Any] | None = None  # who decides (prodml.automation.levels); None: full


@dataclass(frozen=True)
class DeploymentEvent:
    """One change of an endpoint: a version registered, deployed, promoted, rolled back...;
    who made it (a key's name, or the OS user on the command line), why, and for an
    automatic change its evidence (in ``detail``)."""

    endpoint: str
    at: datetime
    action: str
    version: int | None
    detail: dict[str, Any] | None
    revision: int | None = None
    actor: str | None = None
    reason: str | None = None


class Registry:
    """The model versions and deployments of a store."""

    def __init__(self, runs: Runs) -> None:
        self.runs = runs
        self.database = runs.database

    def register(self, run: Run, name: str) -> ModelVersion:
        """Record the model of a finished fit or search run as the next version of ``name``."""
        _check_name(name)
        run = self.runs.get(run.id)  # as this store has it now
        if run.kind not in MODEL_KINDS:
            raise NotFoundError(
                f"run {run.id} is a {run.kind} run, which keeps no model to register; "
                "give a fit or search run (see `prodml runs list`)"
            )
        if run.status != "finished":
            raise NotFoundError(
                f"run {run.id} is {run.status}; only a finished fit or search run can be registered"
            )
        run.artifact("model")  # says which artifacts the run has instead
        evaluation = Evaluations(self.database).latest(run.id)
        for _ in range(_ATTEMPTS):
            try:
                return self._insert(run, name, evaluation)
            except UniqueViolation:
                # The run is in the store, so this is the unique (name, version): another
                # process took this version number first. Count again.
                continue
        raise StoreError(
            f"could not register run {run.id} as {name}: {_ATTEMPTS} other registrations "
            "of that name took each version number first; try again"
        )

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Registered versions, newest first: of one name, or of all."""
        query = select(ModelVersionRow)
        if name is None:
            query = query.order_by(ModelVersionRow.created_at.desc(), ModelVersionRow.id.desc())
        else:
            query = query.where(ModelVersionRow.name == name)
            query = query.order_by(ModelVersionRow.version.desc())
        with self.database.reading() as session:
            return [_version(row) for row in session.scalars(query).all()]

    def get(self, ref: str) -> ModelVersion:
        """A version by ``name`` (the endpoint's primary if deployed, else the newest),
        ``name:3``, or ``name:latest``."""
        name, _, wanted = ref.partition(":")
        if wanted and wanted != "latest" and not wanted.isdecimal():
            raise NotFoundError(
                f"model reference '{ref}' has version '{wanted}', which is not a number or "
                "'latest'; give name, name:3 or name:latest"
            )
        with self.database.reading() as session:
            numbers = session.scalars(
                select(ModelVersionRow.version)
                .where(ModelVersionRow.name == name)
                .order_by(ModelVersionRow.version.desc())
            ).all()
            if not numbers:
                raise NotFoundError(_unknown_name(session, name))
            if wanted.isdecimal():
                number = int(wanted)
            elif wanted == "latest":
                number = numbers[0]
            else:
                deployed = session.get(DeploymentRow, name)
                serves = deployed is not None and deployed.name == name
                number = deployed.primary_version if deployed and serves else numbers[0]
            if number not in numbers:  # (a number too large for the column is not either)
                raise NotFoundError(
                    f"model {name} has no version {shortened(number)}; its versions are: "
                    f"{listing(sorted(numbers))}"
                )
            row = session.scalars(
                select(ModelVersionRow).where(
                    ModelVersionRow.name == name, ModelVersionRow.version == number
                )
            ).one()
            return _version(row)

    def delete(
        self,
        ref: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
        keep_run: bool = False,
    ) -> Deletion:
        """Delete the version ``name:3``: refused while an endpoint serves it (as primary
        or candidate) or keeps it as the primary a rollback brings back. The deletion is
        an event of the name's history, and the number is never given again.

        The run it came from goes too, with its files (artifacts, evaluations, a search's
        candidates; an event of its own), unless ``keep_run`` or another version, of any
        name, still comes from it: a file is never removed while a run or version that
        remains refers to it."""
        name, _, wanted = ref.partition(":")
        if not wanted.isdecimal():
            raise NotFoundError(
                f"model reference '{ref}' names no version; give the one to delete as "
                f"{name}:VERSION (prodml models list --name {name} lists them)"
            )
        version = self.get(ref)
        with self.database.session() as session:
            serving = session.scalars(
                select(DeploymentRow).where(DeploymentRow.name == name).with_for_update()
            ).all()
            for row in serving:
                held = _holds(row, version.version)
                if held is not None:
                    raise DeploymentError(f"model {version.ref} {held}")
            gone = session.execute(
                delete(ModelVersionRow).where(
                    ModelVersionRow.name == name, ModelVersionRow.version == version.version
                )
            )
            if not gone.rowcount:  # type: ignore[attr-defined]
                raise NotFoundError(f"model {version.ref} was deleted meanwhile")
            detail = {"run": version.run_id}
            session.add(
                event(
                    name, utc_now(), "deleted", version.version, detail, actor=actor, reason=reason
                )
            )
        if keep_run:
            return Deletion(version, None, ())
        because = f"{version.ref} was deleted" + (f": {reason}" if reason else "")
        try:
            run = self.runs.delete(version.run_id, actor=actor, reason=because)
        except StoreError:  # another version comes from the run (Runs.delete checks)
            return Deletion(version, None, tuple(self._from_run(version.run_id)))
        return Deletion(version, run, ())

    def _from_run(self, run_id: str) -> list[str]:
        """The versions registered from run ``run_id``, as ``name:version``."""
        with self.database.reading() as session:
            rows = session.execute(
                select(ModelVersionRow.name, ModelVersionRow.version)
                .where(ModelVersionRow.run_id == run_id)
                .order_by(ModelVersionRow.name, ModelVersionRow.version)
            ).all()
        return [f"{name}:{number}" for name, number in rows]

    def deployment(self, endpoint: str) -> Deployment:
        """The deployment behind an endpoint."""
        with self.database.reading() as session:
            return as_deployment(deployment_row(session, endpoint))

    def deployments(self, name: str | None = None) -> list[Deployment]:
        """Every endpoint (or those serving model ``name``), by name."""
        query = select(DeploymentRow).order_by(DeploymentRow.endpoint)
        if name is not None:
            query = query.where(DeploymentRow.name == name)
        with self.database.reading() as session:
            return [as_deployment(row) for row in session.scalars(query).all()]

    def events(self, endpoint: str) -> list[DeploymentEvent]:
        """What happened to an endpoint, oldest first."""
        query = (
            select(DeploymentEventRow)
            .where(DeploymentEventRow.endpoint == endpoint)
            .order_by(DeploymentEventRow.at, DeploymentEventRow.id)
        )
        with self.database.reading() as session:
            return [
                DeploymentEvent(
                    endpoint=row.endpoint,
                    at=as_utc(row.at) or row.at,
                    action=row.action,
                    version=row.version,
                    detail=row.detail,
                    revision=row.revision,
                    actor=row.actor,
                    reason=row.reason,
                )
                for row in session.scalars(query).all()
            ]

    def note(self, happened: DeploymentEventRow) -> None:
        """Add ``happened`` (an :func:`event`) to its endpoint's history: an event that
        changes nothing, such as a server's shadow dropping copies, where a change writes
        its event with the change."""
        with self.database.session() as session:
            session.add(happened)

    def load(self, version: ModelVersion) -> Any:
        """The version's model, after its SHA-256 is checked."""
        run = self.runs.get(version.run_id)
        return self.runs.artifacts.load(run.artifact("model"))

    def _insert(self, run: Run, name: str, evaluation: Evaluation | None) -> ModelVersion:
        with self.database.session() as session:
            newest = session.scalar(
                select(func.max(ModelVersionRow.version)).where(ModelVersionRow.name == name)
            )
            deleted = session.scalar(  # a deleted version's number is not given again
                select(func.max(DeploymentEventRow.version)).where(
                    DeploymentEventRow.endpoint == name, DeploymentEventRow.action == "deleted"
                )
            )
            now = utc_now()
            row = ModelVersionRow(
                name=name,
                version=max(newest or 0, deleted or 0) + 1,
                run_id=run.id,
                project=run.project,
                created_at=now,
                data_fingerprint=run.data_fingerprint,
                input_schema=run.input_schema,
                evaluation_id=None if evaluation is None else evaluation.id,
                audit_passed=None if evaluation is None else evaluation.passed,
            )
            session.add(row)
            session.add(event(name, now, "registered", row.version, {"run": run.id}))
            first = row.version == 1 and session.get(DeploymentRow, name) is None
            if first and evaluation is not None and evaluation.passed:
                session.add(
                    DeploymentRow(
                        endpoint=name, name=name, primary_version=1, revision=1, updated_at=now
                    )
                )
                detail = {"audit": "passed", "evaluation": evaluation.id}
                session.add(event(name, now, "primary", 1, detail, revision=1))
            session.flush()  # a lost race shows here, as the unique (name, version)
            return _version(row)


def _holds(row: DeploymentRow, version: int) -> str | None:
    """What endpoint ``row`` does with ``version``, as the reason it cannot be deleted."""
    endpoint = row.endpoint
    if row.primary_version == version:
        return (
            f"is the primary of endpoint {endpoint}; put another version in its place first "
            f"(prodml deploy {row.name}:VERSION --blue-green, then prodml promote {endpoint})"
        )
    if row.candidate_version == version:
        return (
            f"is the {row.mode} candidate of endpoint {endpoint}; drop it first "
            f"(prodml deploy {endpoint} --stop), then delete it"
        )
    if row.previous_version == version:
        return (
            f"is the previous primary of endpoint {endpoint}, which prodml rollback "
            f"{endpoint} brings back; it can be deleted once a promotion replaces it"
        )
    return None


def _check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise ConfigError(
            f"model name {name!r} cannot name a model: it is also an endpoint's name in URLs, "
            "so use letters, digits, '.', '_' and '-' (starting with a letter or digit, at "
            "most 200 characters); pass another with --name"
        )


def _unknown_name(session: Session, name: str) -> str:
    names = session.scalars(
        select(ModelVersionRow.name).distinct().order_by(ModelVersionRow.name)
    ).all()
    if not names:
        return (
            f"no model named '{name}' is registered; no model is, yet: "
            "`prodml models register` registers the newest fit"
        )
    return (
        f"no model named '{name}' is registered; models are: {listing(names)}"
        f"{did_you_mean(name, names)}"
    )


def deployment_row(session: Session, endpoint: str, *, lock: bool = False) -> DeploymentRow:
    row = session.get(DeploymentRow, endpoint, with_for_update=lock)
    if row is None:
        endpoints = session.scalars(
            select(DeploymentRow.endpoint).order_by(DeploymentRow.endpoint)
        ).all()
        raise NotFoundError(
            f"no endpoint '{endpoint}'; endpoints are: {listing(endpoints) or 'none yet'}"
            f"{did_you_mean(endpoint, endpoints)}; registering a model's first version "
            "opens one of its name"
        )
    return row


def event(
    endpoint: str,
    at: datetime,
    action: str,
    version: int | None,
    detail: dict[str, Any] | None,
    *,
    revision: int | None = None,
    actor: str | None = None,
    reason: str | None = None,
) -> DeploymentEventRow:
    """A row of an endpoint's history (added to a session by whoever changes it)."""
    return DeploymentEventRow(
        endpoint=endpoint,
        at=at,
        action=action,
        version=version,
        detail=jsonable(detail),
        revision=revision,
        actor=actor,
        reason=reason,
    )


def _version(row: ModelVersionRow) -> ModelVersion:
    # Every field is a column of the same name.
    values = {field.name: getattr(row, field.name) for field in fields(ModelVersion)}
    return ModelVersion(**{**values, "created_at": as_utc(row.created_at) or row.created_at})


def as_deployment(row: DeploymentRow) -> Deployment:
    """The row as a :class:`Deployment`."""
    candidate = None
    if row.candidate_version is not None and row.mode is not None:
        candidate = Candidate(
            version=row.candidate_version,
            mode=cast(Mode, row.mode),
            share=row.share,
            plan=row.plan or {},
            ramp_step=row.ramp_step,
            step_started_at=as_utc(row.step_started_at),
        )
    return Deployment(
        endpoint=row.endpoint,
        name=row.name,
        primary=row.primary_version,
        revision=row.revision,
        updated_at=as_utc(row.updated_at) or row.updated_at,
        candidate=candidate,
        previous=row.previous_version,
        automation=row.automation,
    )
