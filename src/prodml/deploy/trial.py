"""A candidate's trial beside its primary: which one, over which period, and the answers
each side gave in it, read from the prediction log.

A trial begins with the event that made a version the endpoint's shadow or canary and ends
with the first event that took it away (a promotion, a stop; for a canary also a
rollback). A shadow answers a copy of the primary's requests, both answers logged under
one request id, so its trial is read as pairs; a canary answers requests of its own, so
its trial is the primary's answers and the canary's over the same period.

>>> Trial("loans", "canary", 1, 2, datetime(2026, 1, 1), None).roles
('primary', 'canary')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from prodml.errors import DeploymentError
from prodml.registry import Registry
from prodml.store.log_format import Stream, decode_inputs, decode_outputs, microseconds
from prodml.store.monitoring import Monitoring
from prodml.store.runs import utc_now
from prodml.store.tables import PredictionRow

#: How a candidate was compared with its primary.
Kind = Literal["shadow", "canary"]
KINDS: tuple[Kind, ...] = get_args(Kind)
#: The events that end a trial, by kind (a rollback beside a shadow rolls the primary back).
ENDS: dict[Kind, tuple[str, ...]] = {
    "shadow": ("promote", "stop"),
    "canary": ("promote", "rollback", "stop"),
}
#: How many answers of a side are read at most (the newest).
MAX_ROWS = 200_000


@dataclass(frozen=True)
class Trial:
    """Version ``candidate`` beside version ``primary`` from ``since`` until ``until``
    (None: it still is)."""

    endpoint: str
    kind: Kind
    primary: int
    candidate: int
    since: datetime
    until: datetime | None

    @property
    def roles(self) -> tuple[str, str]:
        """The roles the two sides' answers are logged as."""
        return ("primary", self.kind)


@dataclass(frozen=True)
class Answers:
    """One side's logged answers, newest first (a shadow's pair by pair with the
    primary's); ``latency_ms`` holds the time each took to answer."""

    request_ids: list[str]
    outputs: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    latency_ms: np.ndarray

    @property
    def predicted(self) -> list[str]:
        """A classifier's answers: the labels, as text."""
        return [str(o["label"]) for o in self.outputs]


def find(registry: Registry, endpoint: str, version: int | None = None) -> Trial:
    """``endpoint``'s newest trial (of ``version``, when given): the shadow or canary it has
    now, else the one it had last."""
    deployment = registry.deployment(endpoint)  # first: an unknown endpoint is named
    events = registry.events(endpoint)
    starts = [
        i
        for i, e in enumerate(events)
        if e.action in KINDS and (version is None or e.version == version)
    ]
    if not starts:
        which = "a shadow or canary" if version is None else f"{endpoint}:{version} beside it"
        raise DeploymentError(
            f"endpoint {endpoint} has never had {which}, so there is nothing to compare; "
            f"deploy one with prodml deploy {deployment.name}:VERSION --shadow (or --canary)"
        )
    begun = events[starts[-1]]
    kind: Kind = "shadow" if begun.action == "shadow" else "canary"
    ended = next((e.at for e in events[starts[-1] + 1 :] if e.action in ENDS[kind]), None)
    assert begun.version is not None  # a shadow or canary event names its version
    primary = deployment.primary
    if ended is not None:  # the primary then: the one that answered during the trial
        primary = _primary(registry, endpoint, begun.version, begun.at, ended) or primary
    return Trial(endpoint, kind, primary, begun.version, begun.at, ended)


def shadowed(registry: Registry, trial: Trial) -> tuple[Answers, Answers]:
    """The primary's and the shadow's answers to the requests both answered in ``trial``."""
    streams = Monitoring(registry.database).streams(trial.endpoint)
    first, second = _streams(streams, trial, 0), _streams(streams, trial, 1)
    a, b = aliased(PredictionRow), aliased(PredictionRow)
    query = (
        select(a.request_id, a.stream_id, a.inputs, a.outputs, a.latency_us)
        .add_columns(b.stream_id, b.outputs, b.latency_us)
        .join(b, b.request_id == a.request_id)
        .where(a.stream_id.in_(first), b.stream_id.in_(second))
        .where(*_during(a, trial), *_during(b, trial))
        .order_by(a.id.desc())
        .limit(MAX_ROWS)
    )
    with registry.database.reading() as session:
        rows = session.execute(query).all()
    return (
        _answers([(rid, s, i, o, us) for rid, s, i, o, us, *_ in rows], streams),
        _answers([(rid, s, i, o, us) for rid, _, i, _, _, s, o, us in rows], streams),
    )


def answered(registry: Registry, trial: Trial, side: int) -> Answers:
    """The answers side ``side`` (0: the primary, 1: the canary) gave during ``trial``."""
    streams = Monitoring(registry.database).streams(trial.endpoint)
    p = PredictionRow
    query = (
        select(p.request_id, p.stream_id, p.inputs, p.outputs, p.latency_us)
        .where(p.stream_id.in_(_streams(streams, trial, side)), *_during(p, trial))
        .order_by(p.id.desc())
        .limit(MAX_ROWS)
    )
    with registry.database.reading() as session:
        return _answers(session.execute(query).all(), streams)


def logged(registry: Registry, trial: Trial, side: int) -> int:
    """How many answers side ``side`` logged during ``trial`` (all of them, not only the
    :data:`MAX_ROWS` read)."""
    streams = Monitoring(registry.database).streams(trial.endpoint)
    p = PredictionRow
    query = select(func.count()).where(
        p.stream_id.in_(_streams(streams, trial, side)), *_during(p, trial)
    )
    with registry.database.reading() as session:
        return int(session.scalar(query) or 0)


def errors(registry: Registry, trial: Trial, version: int) -> int:
    """Requests routed to ``version`` during ``trial`` and answered with a server error
    (5xx), as the canary's ``error_rate`` guard counts them."""
    until = trial.until or utc_now()
    return Monitoring(registry.database).server_errors(trial.endpoint, version, trial.since, until)


def _streams(streams: dict[int, Stream], trial: Trial, side: int) -> list[int]:
    version = (trial.primary, trial.candidate)[side]
    role = trial.roles[side]
    return [i for i, s in streams.items() if s.role == role and s.model_version == version]


def _during(rows: Any, trial: Trial) -> list[Any]:
    """The conditions that keep the log's rows of ``trial``'s period."""
    since = [rows.at_us >= microseconds(trial.since)]
    return since if trial.until is None else [*since, rows.at_us < microseconds(trial.until)]


def _primary(
    registry: Registry, endpoint: str, candidate: int, since: datetime, until: datetime
) -> int | None:
    """The version that answered as primary last in a past trial."""
    streams = Monitoring(registry.database).streams(endpoint)
    ids = [i for i, s in streams.items() if s.role == "primary" and s.model_version != candidate]
    p = PredictionRow
    query = (
        select(p.stream_id)
        .where(p.stream_id.in_(ids), p.at_us >= microseconds(since), p.at_us < microseconds(until))
        .order_by(p.id.desc())
        .limit(1)
    )
    with registry.database.reading() as session:
        found = session.scalar(query)
    return None if found is None else streams[found].model_version


def _answers(rows: Sequence[Any], streams: dict[int, Stream]) -> Answers:
    """Rows of (request id, stream id, inputs, outputs, latency in microseconds)."""
    return Answers(
        [row[0] for row in rows],
        [decode_outputs(row[3], streams[row[1]]) for row in rows],
        [decode_inputs(row[2], streams[row[1]].columns) for row in rows],
        np.asarray([row[4] for row in rows], dtype=np.float64) / 1000,
    )
