"""Setting an endpoint's automation: the level, and for ``partial`` a threshold given or
chosen for a target error on the primary's dev split (kept with its run at fit time, so
the choice needs neither the data nor the model); what ``prodml automation``,
``Project.automate`` and ``POST /admin/automation`` do."""

from __future__ import annotations

from typing import Any

from prodml.automation.levels import Automation
from prodml.automation.threshold import Point, curve, threshold_for
from prodml.config import Level
from prodml.deploy.changes import Deployer
from prodml.errors import ConfigError, NotFoundError
from prodml.registry import Deployment, Registry


def dev_curve(registry: Registry, endpoint: str) -> list[Point]:
    """Coverage against error of ``endpoint``'s primary on its dev split."""
    deployment = registry.deployment(endpoint)
    version = registry.get(f"{deployment.name}:{deployment.primary}")
    run = registry.runs.get(version.run_id)
    try:
        kept = registry.runs.artifacts.load(run.artifact("calibration"))
    except NotFoundError:
        raise ConfigError(
            f"{version.ref} kept no confidences on its dev split (a regressor, a model "
            "without probabilities, or fitted before prodml kept them); refit it and "
            "register the fit, or give a threshold (defer_below)"
        ) from None
    return curve(kept["confidence"], kept["correct"])


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
    chosen: dict[str, Any] = {}
    if target_error is not None:
        point = threshold_for(dev_curve(deployer.registry, endpoint), target_error)
        defer_below = point.threshold
        chosen = {
            "target_error": target_error,
            "coverage": point.coverage,
            "error": point.error,
            "upper": point.upper,
            "rows": point.total,
            "on": "dev split",
        }
    automation = Automation(level, defer_below, audit_sample, chosen)
    return deployer.automate(endpoint, automation, reason=reason)
