"""Setting an endpoint's automation: the level, and for ``partial`` a threshold given or
chosen for a target error on the primary's dev split (kept with its run at fit time, so
the choice needs neither the data nor the model); what ``prodml automation``,
``Project.automate`` and ``POST /admin/automation`` do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prodml.automation.levels import Automation, from_settings
from prodml.automation.threshold import Point, curve, threshold_for
from prodml.config import AutomationSettings, Level
from prodml.deploy.changes import Deployer
from prodml.errors import ConfigError, NotFoundError
from prodml.registry import Deployment, Registry
from prodml.store.runs import Runs


def dev_curve(registry: Registry, endpoint: str) -> list[Point]:
    """Coverage against error of ``endpoint``'s primary on its dev split."""
    deployment = registry.deployment(endpoint)
    version = registry.get(f"{deployment.name}:{deployment.primary}")
    return run_curve(registry.runs, version.run_id, version.ref)


def run_curve(runs: Runs, run_id: str | None, shown: str) -> list[Point]:
    """Coverage against error on the dev split of the fit ``run_id`` (of the model
    ``shown`` as, in an error)."""
    try:
        kept = runs.kept(run_id, "calibration")
    except NotFoundError:
        raise ConfigError(
            f"{shown} kept no confidences on its dev split (a regressor, a model "
            "without probabilities, or fitted before prodml kept them); refit it and "
            "register the fit, or give a threshold (defer_below)"
        ) from None
    return curve(kept["confidence"], kept["correct"])


def chosen_for(points: list[Point], target_error: float) -> dict[str, Any]:
    """The threshold of ``points`` that meets ``target_error``, and how it was chosen."""
    point = threshold_for(points, target_error)
    return {
        "defer_below": point.threshold,
        "target_error": target_error,
        "coverage": point.coverage,
        "error": point.error,
        "upper": point.upper,
        "rows": point.total,
        "on": "dev split",
    }


def served_automation(
    stored: dict[str, Any] | None,
    settings: AutomationSettings,
    points: Callable[[], list[Point]],
) -> Automation:
    """What an endpoint serves: its deployment's setting (``stored``) when it has one,
    else prodml.yaml's ``serve.automation``, a ``target_error`` there met on the dev
    curve ``points`` gives (asked only then)."""
    if stored:
        return Automation.from_dict(stored)
    if settings.target_error is None:
        return from_settings(settings)
    return from_settings(settings, chosen_for(points(), settings.target_error))


def automate(
    deployer: Deployer,
    endpoint: str,
    level: Level,
    *,
    defer_below: float | None = None,
    target_error: float | None = None,
    audit_sample: float = 0.0,
    reason: str | None = None,
) -> Deployment:
    """Set who decides ``endpoint``'s predictions; a ``target_error`` is met by the lowest
    threshold whose 95% bound on the dev split is within it (the choice is kept in the
    setting, and so in the event)."""
    if defer_below is not None and target_error is not None:
        raise ConfigError(
            f"give defer_below ({defer_below:g}) or target_error ({target_error:g}), not both"
        )
    if level == "partial" and _regressor(deployer.registry, endpoint):
        raise ConfigError(
            f"level partial defers the answers of low confidence, and endpoint {endpoint}'s "
            "model is a regressor, which gives none; give human, assist or full"
        )
    chosen: dict[str, Any] = {}
    if target_error is not None:
        chosen = chosen_for(dev_curve(deployer.registry, endpoint), target_error)
        defer_below = chosen.pop("defer_below")
    automation = Automation(level, defer_below, audit_sample, chosen)
    return deployer.automate(endpoint, automation, reason=reason)


def _regressor(registry: Registry, endpoint: str) -> bool:
    """Is ``endpoint``'s primary a regressor, as its fit's kept classes say? (False when
    it was fitted before prodml kept them.)"""
    deployment = registry.deployment(endpoint)
    version = registry.get(f"{deployment.name}:{deployment.primary}")
    try:
        return registry.runs.kept(version.run_id, "classes")["classes"] is None
    except NotFoundError:
        return False
