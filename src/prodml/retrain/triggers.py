"""When the monitor retrains: ``monitor.retrain`` in ``prodml.yaml``, checked at the end of
every monitor pass.

A retrain is *due* when any of its triggers is:

- ``alert``: the named alert rule has fired on each of the newest ``windows`` windows
  (the one it fired on included), all ending after the last retrain;
- ``every``: that long has passed since the last retrain;
- ``labels``: that many feedback labels came since the last retrain.

The *last retrain* is the newest of: a retrain the monitor triggered, a version of the
endpoint's model registered (by ``prodml retrain``, or a person's ``prodml models
register``). A due retrain is *held*, and waits for a later pass, while the endpoint has a
candidate (a shadow or a canary), within ``cooldown`` of the last triggered one, when
``daily_budget`` retrains were triggered in this UTC day, and after ``stop_after``
failed candidates in a row: then an alert says so, and triggering stops until a person
resumes it by registering a version that passes its audit (``prodml retrain``).

:func:`decide` is the decision, pure: a :class:`History` in, a :class:`Decision` out.
:func:`retrain_if_due` reads the history from the store and acts on it, one process at
a time among all that share the store (two monitors never retrain twice): each retrain
it triggers is an event of the endpoint (``retrain-triggered``, with its evidence), and
so is its outcome (``retrain-outcome``), beside the deployment changes in
``prodml deployments NAME``.

>>> from datetime import UTC, datetime
>>> from prodml.config import RetrainTriggers
>>> settings = RetrainTriggers(alert="drift_share > 0.3", windows=2, cooldown="6h")
>>> since = datetime(2026, 3, 1, tzinfo=UTC)
>>> seen = [Seen(7, datetime(2026, 3, 2, tzinfo=UTC), 0.5),
...         Seen(8, datetime(2026, 3, 3, tzinfo=UTC), 0.6)]
>>> history = History(since=since, windows=tuple(seen), alert=(41, 7))
>>> decision = decide(settings, history, now=datetime(2026, 3, 3, 12, tzinfo=UTC))
>>> decision.fires, decision.due, decision.evidence["windows"]
(True, ('alert',), [7, 8])
>>> later = History(since=since, windows=tuple(seen), alert=(41, 7),
...                 triggered=(datetime(2026, 3, 3, 9, tzinfo=UTC),))
>>> decide(settings, later, now=datetime(2026, 3, 3, 12, tzinfo=UTC)).held
'cooldown: the last retrain was triggered at 2026-03-03 09:00 UTC; the next may be at 15:00'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import distinct, func, select

from prodml.config import RetrainTriggers
from prodml.errors import NotFoundError, ProdmlError
from prodml.registry import event
from prodml.retrain.promotion import widen
from prodml.retrain.spans import duration
from prodml.store.runs import utc_now
from prodml.store.tables import FeedbackRow, LogStreamRow, PredictionRow

if TYPE_CHECKING:
    from prodml.monitor.monitor import Monitor
    from prodml.project import Project

__all__ = [
    "OUTCOME",
    "STOPPED",
    "TRIGGERED",
    "Decision",
    "History",
    "Seen",
    "Triggered",
    "decide",
    "retrain_if_due",
]

logger = logging.getLogger("prodml.retrain")

#: The endpoint's events: a retrain the monitor triggered (detail: the evidence), and what
#: became of it (detail: passed, the version, the reasons or the error).
TRIGGERED, OUTCOME = "retrain-triggered", "retrain-outcome"
#: The alert fired when triggering stops, the beginning of its rule's name.
STOPPED = "retrain stopped"
#: What the monitor's events are recorded as made by.
ACTOR = "monitor"
#: The lock among processes that share a store (see prodml.store.database.exclusive).
LOCK = "retrain"


@dataclass(frozen=True)
class Seen:
    """One of the endpoint's newest windows: its id, when it ended, the alert's metric."""

    id: int
    ends_at: datetime
    value: float | None = None


@dataclass(frozen=True)
class History:
    """What a decision reads: the last retrain, the newest windows (oldest first), the
    rule's open alert as (alert id, id of the window it fired on), the labels received
    since the last retrain, when the monitor triggered retrains, the candidates' outcomes
    in order (True: passed its audit), and the endpoint's candidate, if any."""

    since: datetime | None
    windows: tuple[Seen, ...] = ()
    alert: tuple[int, int] | None = None
    labels: int = 0
    triggered: tuple[datetime, ...] = ()
    outcomes: tuple[bool, ...] = ()
    candidate: str | None = None

    @property
    def failures(self) -> int:
        """Failed candidates in a row, the newest outcomes."""
        count = 0
        for passed in reversed(self.outcomes):
            if passed:
                break
            count += 1
        return count


@dataclass(frozen=True)
class Decision:
    """What is due (``alert``, ``labels``, ``schedule``) with its evidence, and why a
    due retrain waits (None: it runs now)."""

    due: tuple[str, ...]
    evidence: dict[str, Any]
    held: str | None = None

    @property
    def fires(self) -> bool:
        return bool(self.due) and self.held is None


def decide(settings: RetrainTriggers, history: History, now: datetime) -> Decision:
    """Whether ``history`` calls for a retrain ``now``; see the module docstring."""
    due: list[str] = []
    evidence: dict[str, Any] = {
        "since": None if history.since is None else history.since.isoformat()
    }
    firing = _firing(history)
    if settings.alert is not None and len(firing) >= settings.windows:
        due.append("alert")
        evidence.update(
            rule=settings.alert,
            alert=None if history.alert is None else history.alert[0],
            windows=[w.id for w in firing],
            values=[w.value for w in firing],
        )
    if settings.labels is not None and history.labels >= settings.labels:
        due.append("labels")
        evidence.update(labels=history.labels)
    every = duration(settings.every, "monitor.retrain.every")
    if every is not None and (history.since is None or now - history.since >= every):
        due.append("schedule")
        evidence.update(every=settings.every)
    evidence["by"] = due
    return Decision(tuple(due), evidence, _held(settings, history, now) if due else None)


def _firing(history: History) -> list[Seen]:
    """The newest windows in a row the open alert fired on, after the last retrain."""
    if history.alert is None:
        return []
    fired_on = history.alert[1]
    firing: list[Seen] = []
    for window in reversed(history.windows):
        after = history.since is None or window.ends_at > history.since
        if window.id < fired_on or not after:
            break
        firing.insert(0, window)
    return firing


def _held(settings: RetrainTriggers, history: History, now: datetime) -> str | None:
    if history.failures >= settings.stop_after:
        return (
            f"stopped after {history.failures} failed candidates in a row "
            f"(monitor.retrain.stop_after {settings.stop_after}); a version that passes "
            "its audit resumes it: prodml retrain"
        )
    if history.candidate is not None:
        return f"the endpoint has a candidate, {history.candidate}; promote or stop it first"
    if history.triggered:
        last = max(history.triggered)
        cooldown = duration(settings.cooldown, "monitor.retrain.cooldown")
        if now - last < cooldown:
            next_at = last + cooldown
            shown = f"{next_at:%H:%M}" if next_at.date() == now.date() else f"{next_at:%m-%d %H:%M}"
            return (
                f"cooldown: the last retrain was triggered at {last:%Y-%m-%d %H:%M} UTC; "
                f"the next may be at {shown}"
            )
    today = sum(t.date() == now.date() for t in history.triggered)
    if today >= settings.daily_budget:
        return (
            f"daily budget: {today} retrains triggered today (UTC), "
            f"monitor.retrain.daily_budget {settings.daily_budget}; the next may be tomorrow"
        )
    return None


# --- the store ---------------------------------------------------------------------------


@dataclass
class Triggered:
    """What the triggers did at the end of a monitor pass: what was due, why it was held
    or, when it ran, the retrain's outcome (:meth:`Retrained.to_dict`) or its error."""

    endpoint: str
    due: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    held: str | None = None
    outcome: dict[str, Any] | None = None
    error: str | None = None
    stopped: bool = False  # this retrain's failure stopped the triggers
    shadow: str | None = None  # what became of a retrained shadow (prodml.retrain.promotion)

    @property
    def ran(self) -> bool:
        return self.outcome is not None or self.error is not None

    @property
    def summary(self) -> str:
        """What triggered a retrain and what came of it, or why it waits; and what became
        of a retrained shadow: a line each."""
        lines = [self._retrained()] if self.due else []
        return "\n".join(lines + ([self.shadow] if self.shadow else []))

    def _retrained(self) -> str:
        because = ", ".join(_because(kind, self.evidence) for kind in self.due)
        if not self.ran:
            return f"retrain due ({because}), held: {self.held}"
        if self.error is not None:
            line = f"retrain triggered ({because}) failed: {self.error}"
        else:
            assert self.outcome is not None
            line = f"retrain triggered ({because}): " + _outcome(self.outcome)
        return line + (f"; {STOPPED} (monitor.retrain.stop_after)" if self.stopped else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "due": list(self.due),
            "evidence": self.evidence,
            "held": self.held,
            "ran": self.ran,
            "outcome": self.outcome,
            "error": self.error,
            "stopped": self.stopped,
            "shadow": self.shadow,
        }


def _because(kind: str, evidence: dict[str, Any]) -> str:
    if kind == "alert":
        return f"alert {evidence['rule']} for {len(evidence['windows'])} window(s)"
    if kind == "labels":
        return f"{evidence['labels']:,} new labels"
    return f"every {evidence['every']}"


def _outcome(outcome: dict[str, Any]) -> str:
    version = outcome.get("version")
    name = f"{outcome.get('name') or outcome.get('model')}:{version}"
    if outcome.get("passed"):
        shadow = " in shadow" if outcome.get("shadow") else ""
        return f"{name} passed its audit{shadow}"
    reasons = "; ".join(outcome.get("reasons") or []) or "no reason given"
    return f"the candidate failed ({reasons})"


def retrain_if_due(project: Project, endpoint: str, monitor: Monitor) -> Triggered | None:
    """At the end of a monitor pass over ``endpoint``: move a retrained shadow on
    (``retrain.promote``, :func:`prodml.retrain.promotion.widen`), then retrain if
    ``monitor.retrain`` says a retrain is due and nothing holds it (None: nothing done,
    nothing due). One process at a time among those sharing the store; a pass that finds
    another at it leaves it to that one."""
    settings = project.settings.monitor.retrain
    if settings is None and project.settings.retrain.promote == "manual":
        return None  # nothing to do at any pass: no lock taken
    with project.runs_store.database.exclusive(LOCK, wait=False) as holds:
        if not holds:
            return None
        shadow = widen(project, endpoint)
        found = None if settings is None else _due(project, endpoint, monitor, settings)
        if shadow is not None:
            found = found or Triggered(endpoint)
            found.shadow = shadow
        return found


def _due(
    project: Project, endpoint: str, monitor: Monitor, settings: RetrainTriggers
) -> Triggered | None:
    """Retrain if a trigger is due and nothing holds it (see :func:`retrain_if_due`)."""
    history = read_history(project, endpoint, settings)
    decision = decide(settings, history, utc_now())
    _resolve_stop(project, endpoint, monitor, history, settings)
    if decision.fires:
        return _retrain(project, endpoint, monitor, decision, history, settings)
    if decision.due:
        return Triggered(endpoint, decision.due, decision.evidence, decision.held)
    return None


def _retrain(
    project: Project,
    endpoint: str,
    monitor: Monitor,
    decision: Decision,
    history: History,
    settings: RetrainTriggers,
) -> Triggered:
    registry = project.registry
    evidence = {"endpoint": endpoint, **decision.evidence}
    because = ", ".join(_because(kind, evidence) for kind in decision.due)
    registry.note(
        event(endpoint, utc_now(), TRIGGERED, None, evidence, actor=ACTOR, reason=because)
    )
    logger.warning("%s: retrain triggered (%s)", endpoint, because)
    done = Triggered(endpoint, decision.due, evidence)
    name = _model_name(project, endpoint)
    try:
        done.outcome = project.retrain(name, trigger=evidence).to_dict()
        passed, version = bool(done.outcome.get("passed")), done.outcome.get("version")
        detail: dict[str, Any] = {
            "passed": passed,
            "run": done.outcome.get("run_id"),
            "reasons": done.outcome.get("reasons") or [],
        }
    except ProdmlError as exc:
        done.error, passed, version = str(exc), False, None
        detail = {"passed": False, "error": done.error}
    registry.note(event(endpoint, utc_now(), OUTCOME, version, detail, actor=ACTOR))
    if not passed and history.failures + 1 >= settings.stop_after:
        done.stopped = True
        windows = project.monitoring.windows(endpoint, newest=1)
        label = f"{STOPPED} after {history.failures + 1} failed candidates in a row"
        if windows:  # an alert belongs to a window
            monitor.alert(endpoint, label, "retrain_failures", history.failures + 1, windows[0].id)
        else:
            logger.warning("%s: %s", endpoint, label)
    return done


def _resolve_stop(
    project: Project,
    endpoint: str,
    monitor: Monitor,
    history: History,
    settings: RetrainTriggers,
) -> None:
    """Resolve the stop alert once a person has resumed the triggers."""
    if history.failures >= settings.stop_after:
        return
    for alert in project.monitoring.alerts(endpoint, firing=True):
        if alert.rule.startswith(STOPPED):
            newest = project.monitoring.windows(endpoint, newest=1)
            monitor.store.resolve(alert.id, newest[0].id if newest else None)


def read_history(project: Project, endpoint: str, settings: RetrainTriggers) -> History:
    """The :class:`History` of ``endpoint`` in the project's store."""
    registry = project.registry
    events = registry.events(endpoint)
    triggered = tuple(e.at for e in events if e.action == TRIGGERED)
    retrained = [*triggered, *(e.at for e in events if e.action == "registered")]
    since = max(retrained, default=None)
    # the candidates' outcomes in order: the monitor's, and every version that passed
    timeline = [(e.at, bool((e.detail or {}).get("passed"))) for e in events if e.action == OUTCOME]
    name = _model_name(project, endpoint)
    timeline += [(v.created_at, True) for v in registry.versions(name) if v.audit_passed]
    windows: tuple[Seen, ...] = ()
    alert: tuple[int, int] | None = None
    if settings.alert is not None:
        metric = next(
            r.metric for r in project.settings.monitor.alerts if r.label == settings.alert
        )
        seen = project.monitoring.windows(endpoint, newest=settings.windows)
        windows = tuple(Seen(w.id, w.ends_at, w.metrics.get(metric)) for w in seen)
        firing = [
            a for a in project.monitoring.alerts(endpoint, firing=True) if a.rule == settings.alert
        ]
        alert = (firing[0].id, firing[0].window_id) if firing else None
    return History(
        since=since,
        windows=windows,
        alert=alert,
        labels=labels_since(project, endpoint, since) if settings.labels is not None else 0,
        triggered=triggered,
        outcomes=tuple(passed for _, passed in sorted(timeline, key=lambda t: t[0])),
        candidate=_candidate(project, endpoint),
    )


def labels_since(project: Project, endpoint: str, since: datetime | None) -> int:
    """Requests of ``endpoint`` labelled (feedback received) after ``since``."""
    f, p, s = FeedbackRow, PredictionRow, LogStreamRow
    query = (
        select(func.count(distinct(f.request_id)))
        .join(p, p.request_id == f.request_id)
        .join(s, s.id == p.stream_id)
        .where(s.endpoint == endpoint, s.role != "shadow")
    )
    if since is not None:
        query = query.where(f.received_at > since)
    with project.runs_store.database.reading() as session:
        return int(session.scalar(query) or 0)


def _model_name(project: Project, endpoint: str) -> str:
    try:
        return project.registry.deployment(endpoint).name
    except NotFoundError:
        return endpoint


def _candidate(project: Project, endpoint: str) -> str | None:
    try:
        deployment = project.registry.deployment(endpoint)
    except NotFoundError:
        return None
    candidate = deployment.candidate
    if candidate is None:
        return None
    return f"{deployment.name}:{candidate.version} ({candidate.mode})"
