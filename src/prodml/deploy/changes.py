"""Deployment changes: put a candidate beside an endpoint's primary, promote it, roll back,
stop it, step a canary along its ramp.

Each change is one transaction on the endpoint's row (locked while it changes: SQLite's
``BEGIN IMMEDIATE``, PostgreSQL's ``FOR UPDATE``) and one event naming who made it, why,
and what the audit gate or the canary analysis saw, so a process killed in the middle
leaves the old state or the new one, never a mix. Servers see the new revision on their
next look and route accordingly.

>>> import prodml, tempfile
>>> project = prodml.Project(prodml.init(tempfile.mkdtemp() + "/bc", example="breast-cancer"))
>>> first, second = project.fit(), project.fit()
>>> _ = project.evaluate(first.id), project.evaluate(second.id)
>>> _ = project.register(first.id), project.register(second.id)
>>> deployer = Deployer(project.registry, actor="ana")
>>> deployer.deploy("breast-cancer:2", "canary", reason="a new fit").candidate.share
1.0
>>> deployer.promote("breast-cancer").primary, deployer.rollback("breast-cancer").primary
(2, 1)
>>> [e.action for e in project.registry.events("breast-cancer")][-3:]
['canary', 'promote', 'rollback']
>>> project.close()
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError as UniqueViolation
from sqlalchemy.orm import Session

from prodml.automation.levels import Automation
from prodml.deploy import gate
from prodml.deploy.plan import (
    DEFAULT_MIN_REQUESTS,
    DEFAULT_RAMP,
    DEFAULT_STEP_SECONDS,
    check_ramp,
)
from prodml.errors import ConfigError, DeploymentError
from prodml.registry import (
    MODES,
    Deployment,
    Mode,
    ModelVersion,
    Registry,
    as_deployment,
    deployment_row,
    event,
)
from prodml.store.evaluations import Evaluations
from prodml.store.runs import utc_now
from prodml.store.tables import DeploymentRow


def who() -> str:
    """The OS user, who a change made on this machine's command line is recorded as."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "unknown"


class Deployer:
    """Changes the deployments of ``registry``'s endpoints, recorded as made by ``actor``
    (default: the OS user)."""

    def __init__(self, registry: Registry, actor: str | None = None) -> None:
        self.registry = registry
        self.actor = actor or who()
        self.evaluations = Evaluations(registry.database)

    def deploy(
        self,
        ref: str,
        mode: Mode | None = None,
        *,
        sample: float = 1.0,
        ramp: Sequence[float] = DEFAULT_RAMP,
        step_seconds: float = DEFAULT_STEP_SECONDS,
        min_requests: int = DEFAULT_MIN_REQUESTS,
        force: bool = False,
        reason: str | None = None,
    ) -> Deployment:
        """Serve version ``ref`` (``name:3``) of a model: as the primary of a new endpoint
        (no ``mode``), or as the candidate beside the endpoint's primary: a ``shadow``
        seeing a ``sample`` of the traffic, a ``canary`` taking the ``ramp``'s shares, or
        ``blue-green`` (loaded, no traffic until :meth:`promote`). A version in shadow
        goes out as a canary in one change (``mode="canary"``)."""
        if mode is not None and mode not in MODES:
            raise ConfigError(f"deployment mode {mode!r} is not one of: {', '.join(MODES)}")
        if not 0 < sample <= 1:
            raise ConfigError(
                f"--sample {sample:g} is outside (0, 1]; give the share of "
                "requests the shadow sees, e.g. 0.1 or 1.0"
            )
        if step_seconds <= 0 or min_requests < 1:
            raise ConfigError(
                f"--step {step_seconds:g}s and --min-requests {min_requests} must be positive"
            )
        steps = check_ramp(ramp) if mode == "canary" else ()
        version = self._version(ref)
        seen = gate.check(self.evaluations, version, "deploy", force=force, reason=reason)
        endpoint = version.name
        with self.registry.database.session() as session:
            row = session.get(DeploymentRow, endpoint, with_for_update=True)
            if row is None:
                if mode is not None:
                    raise DeploymentError(
                        f"endpoint {endpoint} serves nothing yet, so {version.ref} cannot be "
                        f"its {mode} candidate; deploy it as the primary first: "
                        f"prodml deploy {version.ref}"
                    )
                return self._open(session, version, seen, reason)
            if mode is None:
                raise DeploymentError(
                    f"endpoint {endpoint} serves {endpoint}:{row.primary_version}; put "
                    f"{version.ref} beside it with --shadow, --canary or --blue-green, then "
                    f"prodml promote {endpoint}"
                )
            widened = (row.candidate_version, row.mode, mode) == (
                version.version,
                "shadow",
                "canary",
            )
            if row.candidate_version is not None and not widened:  # a shadow may go canary
                raise DeploymentError(
                    f"endpoint {endpoint} already has a {row.mode} candidate, "
                    f"{endpoint}:{row.candidate_version}; promote it (prodml promote "
                    f"{endpoint}) or drop it (prodml deploy {endpoint} --stop) first"
                )
            if version.version == row.primary_version:
                raise DeploymentError(
                    f"{version.ref} is already the primary of endpoint {endpoint}; deploy "
                    "another version as its candidate"
                )
            now = utc_now()
            row.candidate_version, row.mode = version.version, mode
            if mode == "canary":
                plan: dict[str, Any] = {
                    "ramp": list(steps),
                    "step_seconds": step_seconds,
                    "min_requests": min_requests,
                }
                row.share, row.ramp_step, row.step_started_at = steps[0], 0, now
            else:
                plan = {"sample": sample} if mode == "shadow" else {}
                row.share = sample * 100 if mode == "shadow" else 0.0
                row.ramp_step = row.step_started_at = None
            row.plan = plan
            return self._changed(session, row, now, mode, version.version, {**seen, **plan}, reason)

    def promote(
        self,
        endpoint: str,
        *,
        force: bool = False,
        reason: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> Deployment:
        """Make the endpoint's candidate its primary; the primary it replaces is kept as
        the one :meth:`rollback` brings back."""
        # what the gate reads, read before the endpoint's row is locked (on SQLite a
        # second session would wait for this one's write lock)
        before = self.registry.deployment(endpoint)
        if before.candidate is None:
            raise DeploymentError(
                f"endpoint {endpoint} has no candidate to promote (it serves "
                f"{endpoint}:{before.primary} alone); deploy one first: "
                f"prodml deploy {before.name}:VERSION --canary"
            )
        version = self._version(f"{before.name}:{before.candidate.version}")
        seen = gate.check(self.evaluations, version, "promote", force=force, reason=reason)
        with self.registry.database.session() as session:
            row = deployment_row(session, endpoint, lock=True)
            if row.candidate_version != version.version:
                raise DeploymentError(
                    f"endpoint {endpoint} changed while {version.ref} was being promoted; "
                    f"look at prodml deployments {endpoint} and try again"
                )
            now = utc_now()
            row.previous_version, row.primary_version = row.primary_version, version.version
            _clear(row)
            detail = {**seen, **(evidence or {})}
            return self._changed(session, row, now, "promote", version.version, detail, reason)

    def rollback(
        self,
        endpoint: str,
        *,
        reason: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> Deployment:
        """Undo the newest step forward: a canary's traffic goes back to the primary (the
        candidate is dropped), or, with no canary, the previous primary serves again."""
        with self.registry.database.session() as session:
            row = deployment_row(session, endpoint, lock=True)
            now = utc_now()
            if row.mode == "canary":
                version = row.candidate_version
                _clear(row)
            elif row.previous_version is not None:
                version = row.primary_version = row.previous_version
                row.previous_version = None
            else:
                raise DeploymentError(
                    f"endpoint {endpoint} has no previous primary to roll back to (it has "
                    f"served only {endpoint}:{row.primary_version} since it was opened or "
                    "last rolled back) and no canary"
                )
            return self._changed(session, row, now, "rollback", version, evidence, reason)

    def stop(self, endpoint: str, *, reason: str | None = None) -> Deployment:
        """Drop the endpoint's candidate (of any mode); the primary answers everything."""
        with self.registry.database.session() as session:
            row = deployment_row(session, endpoint, lock=True)
            if row.candidate_version is None:
                raise DeploymentError(f"endpoint {endpoint} has no candidate to stop")
            version = row.candidate_version
            _clear(row)
            return self._changed(session, row, utc_now(), "stop", version, None, reason)

    def automate(
        self, endpoint: str, automation: Automation, *, reason: str | None = None
    ) -> Deployment:
        """Set who decides the endpoint's predictions (see :mod:`prodml.automation.levels`);
        every server applies it within seconds."""
        with self.registry.database.session() as session:
            row = deployment_row(session, endpoint, lock=True)
            row.automation = automation.to_dict()
            detail = row.automation
            return self._changed(session, row, utc_now(), "automation", None, detail, reason)

    def advance(self, endpoint: str, evidence: dict[str, Any]) -> Deployment:
        """Move a canary to the next share of its ramp; past the last, promote it."""
        with self.registry.database.session() as session:
            row = deployment_row(session, endpoint, lock=True)
            version = row.candidate_version
            if row.mode != "canary" or row.ramp_step is None or version is None:
                raise DeploymentError(f"endpoint {endpoint} has no canary to advance")
            ramp = (row.plan or {}).get("ramp") or list(DEFAULT_RAMP)
            now = utc_now()
            if row.ramp_step + 1 >= len(ramp):
                row.previous_version, row.primary_version = row.primary_version, version
                _clear(row)
                return self._changed(session, row, now, "promote", version, evidence, None)
            row.ramp_step += 1
            row.share, row.step_started_at = float(ramp[row.ramp_step]), now
            detail = {**evidence, "share": row.share}
            return self._changed(session, row, now, "advance", version, detail, None)

    def _version(self, ref: str) -> ModelVersion:
        name, sep, number = ref.partition(":")
        if not sep or not number.isdecimal():
            raise ConfigError(
                f"model reference {ref!r} names no version; give name:VERSION, e.g. {name}:2 "
                "(see prodml models list)"
            )
        return self.registry.get(ref)

    def _open(
        self, session: Session, version: ModelVersion, seen: dict[str, Any], reason: str | None
    ) -> Deployment:
        now = utc_now()
        row = DeploymentRow(
            endpoint=version.name,
            name=version.name,
            primary_version=version.version,
            revision=0,
            updated_at=now,
            share=0.0,
        )
        session.add(row)
        try:
            session.flush()
        except UniqueViolation:  # opened by another process meanwhile
            raise DeploymentError(
                f"endpoint {version.name} was opened by another change meanwhile; look at "
                f"prodml deployments {version.name} and deploy {version.ref} as its candidate"
            ) from None
        return self._changed(session, row, now, "primary", version.version, seen, reason)

    def _changed(
        self,
        session: Session,
        row: DeploymentRow,
        now: datetime,
        action: str,
        version: int | None,
        detail: dict[str, Any] | None,
        reason: str | None,
    ) -> Deployment:
        row.revision, row.updated_at = row.revision + 1, now
        session.add(
            event(
                row.endpoint,
                now,
                action,
                version,
                detail,
                revision=row.revision,
                actor=self.actor,
                reason=reason,
            )
        )
        return as_deployment(row)


def _clear(row: DeploymentRow) -> None:
    row.candidate_version = row.mode = row.plan = row.ramp_step = row.step_started_at = None
    row.share = 0.0
