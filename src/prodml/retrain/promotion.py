"""Who promotes a retrained candidate: ``retrain.promote`` in ``prodml.yaml``.

A candidate that passes its audit always goes out as a shadow first: it answers a copy of
the traffic, and nobody sees its answers. Then, with ``promote: manual`` (the default), a
person moves it on: ``prodml deploy NAME:V --canary``, or ``prodml promote NAME``. With
``promote: canary``, the monitor's pass does: once the shadow has answered
``retrain.shadow_requests`` copies (500 by default) without failing one, it goes out as a
canary, in one deployment change, and the canary's guards (:mod:`prodml.deploy.canary`:
an always-valid sequential test on errors, latency, the answers' mix and labelled
accuracy) promote it or roll it back. A shadow that failed a copy stays where it is, for a
person to look at (``prodml deployments compare NAME``). Only a shadow that retraining
made moves on its own; a person's shadow is theirs to move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodml.deploy.compare import compare
from prodml.errors import NotFoundError

if TYPE_CHECKING:
    from prodml.project import Project

__all__ = ["ACTOR", "widen"]

#: Who the change is recorded as made by.
ACTOR = "prodml retrain"


def widen(project: Project, endpoint: str) -> str | None:
    """With ``retrain.promote: canary``, send ``endpoint``'s retrained shadow out as a
    canary once it has answered enough copies without an error; what happened to it, in
    one line (None: no retrained shadow, or ``promote: manual``)."""
    settings = project.settings.retrain
    if settings.promote != "canary":
        return None
    registry = project.registry
    try:
        deployment = registry.deployment(endpoint)
    except NotFoundError:
        return None
    candidate = deployment.candidate
    if candidate is None or candidate.mode != "shadow":
        return None
    ref = f"{deployment.name}:{candidate.version}"
    run = project.runs_store.get(registry.get(ref).run_id)
    if "retrain.trigger" not in (run.params or {}):
        return None
    shadow = compare(registry, endpoint).candidate
    if shadow.errors:
        return (
            f"{ref} failed {shadow.errors:,} of the copies it was sent in shadow, so it stays "
            f"a shadow: look at prodml deployments compare {endpoint}"
        )
    if shadow.answers < settings.shadow_requests:
        return (
            f"{ref} in shadow: {shadow.answers:,} of the {settings.shadow_requests:,} copies "
            "it answers before it goes out as a canary (retrain.shadow_requests)"
        )
    reason = (
        f"retrain.promote: canary: {shadow.answers:,} copies answered in shadow without an error"
    )
    project.deployer(ACTOR).deploy(ref, "canary", reason=reason)
    return (
        f"{ref} answered {shadow.answers:,} copies in shadow without an error: out as a "
        "canary (retrain.promote: canary), whose guards promote it or roll it back"
    )
