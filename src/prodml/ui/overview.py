"""The overview: each endpoint as it stands now.

Its primary and candidate (mode, share), who decides its answers, and from its newest
monitor window the requests a second, p99 latency, error rate and drift share; and the
alert rules firing on it. The same numbers as ``prodml deployments --json``, ``prodml
monitor report --json`` (the last window) and ``prodml alerts list --firing --json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prodml.registry import Deployment
from prodml.store.monitoring import Alert, Window

if TYPE_CHECKING:
    from prodml.project import Project


@dataclass(frozen=True)
class Endpoint:
    """One endpoint on the overview."""

    deployment: Deployment
    automation: str  # the level, and whether the deployment or the project file set it
    window: Window | None  # the newest monitored window
    firing: list[Alert]


def endpoints(project: Project) -> list[Endpoint]:
    """Every endpoint of the project's store, by name."""
    default = project.settings.serve.automation.level
    found = []
    for deployment in project.registry.deployments():
        level = (deployment.automation or {}).get("level")
        newest = project.monitoring.windows(deployment.endpoint, newest=1)
        found.append(
            Endpoint(
                deployment,
                f"{level} (set on the endpoint)" if level else f"{default} (prodml.yaml)",
                newest[-1] if newest else None,
                project.monitoring.alerts(deployment.endpoint, firing=True),
            )
        )
    return found
