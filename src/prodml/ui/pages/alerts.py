"""The alerts page: what the monitor's rules fired, firing first, with their windows and
what became of their webhooks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prodml.ui.render import page
from prodml.ui.state import dashboard


def alerts(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.visitor(request)
    found = board.project.monitoring.alerts()
    firing = [a for a in found if a.resolved_at is None]
    resolved = [a for a in found if a.resolved_at is not None]
    return page(request, "alerts.html", visitor, firing=firing, resolved=resolved)


ROUTES = [Route("/alerts", alerts, methods=["GET"], name="alerts")]
