"""What every page handler reaches through its request: the project and the access checks.

The dashboard opens one :class:`~prodml.project.Project` and keeps it on the app's state;
its store is opened (and migrated) when the app is made, so handlers running at once in
the thread pool share one engine instead of racing to open it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from prodml.deploy.keys import Keys
from prodml.ui.access import Access
from prodml.ui.server_metrics import MetricsSource

if TYPE_CHECKING:
    from prodml.project import Project


@dataclass(frozen=True)
class Dashboard:
    """The project a dashboard shows, who may see and change it, and the servers whose
    ``/metrics`` the live page reads."""

    project: Project
    access: Access
    servers: tuple[MetricsSource, ...] = ()

    @classmethod
    def open(cls, project: Project, servers: Sequence[MetricsSource] = ()) -> Dashboard:
        # opened now, once: handlers in the thread pool would otherwise race to open them
        project.registry, project.monitoring, project.review_queue  # noqa: B018
        return cls(project, Access(Keys(project.runs_store.database)), tuple(servers))

    def endpoints(self) -> list[str]:
        """Every endpoint with a deployment or logged predictions, by name."""
        deployed = {d.endpoint for d in self.project.registry.deployments()}
        return sorted(deployed | set(self.project.monitoring.endpoints()))

    def endpoint(self, request: Request, known: list[str]) -> str | None:
        """The endpoint ``request`` asks for (``?endpoint=``), else the first ``known``
        one (None: there is none); a NotFoundError naming them for an unknown one."""
        asked = request.query_params.get("endpoint")
        if asked is None:
            return known[0] if known else None
        return self.project.endpoint(asked)


def dashboard(request: Request) -> Dashboard:
    """The dashboard that ``request`` came to."""
    found = request.app.state.dashboard
    assert isinstance(found, Dashboard), "the app keeps its Dashboard on its state"
    return found
