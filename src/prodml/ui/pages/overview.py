"""The overview page: every endpoint as it stands now."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prodml.ui.overview import endpoints
from prodml.ui.render import page
from prodml.ui.state import dashboard


def overview(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.visitor(request)
    return page(request, "overview.html", visitor, endpoints=endpoints(board.project))


ROUTES = [Route("/", overview, methods=["GET"], name="overview")]
