"""The live traffic page: an endpoint's last minutes, refreshed every few seconds."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prodml.errors import ConfigError, listing
from prodml.ui.render import page
from prodml.ui.state import dashboard
from prodml.ui.traffic import traffic

#: the spans a visitor may look at, in seconds; how often the page refreshes
SPANS = {"1m": 60, "5m": 300, "15m": 900}
REFRESH_SECONDS = 3


def live(request: Request) -> Response:
    return _live(request, "live.html")


def numbers(request: Request) -> Response:
    """The refreshing part of the page, alone (what htmx asks for every few seconds)."""
    return _live(request, "live_numbers.html")


def _live(request: Request, template: str) -> Response:
    board = dashboard(request)
    visitor = board.access.visitor(request)
    database = board.project.runs_store.database
    known = board.endpoints()
    endpoint = board.endpoint(request, known)
    span = request.query_params.get("span") or "5m"
    if span not in SPANS:
        raise ConfigError(f"span {span!r} is not one of {listing(SPANS)}")
    return page(
        request,
        template,
        visitor,
        endpoints=known,
        endpoint=endpoint,
        span=span,
        spans=SPANS,
        refresh=REFRESH_SECONDS,
        traffic=None if endpoint is None else traffic(database, endpoint, SPANS[span]),
        servers=[] if endpoint is None else [server.now(endpoint) for server in board.servers],
    )


ROUTES = [
    Route("/live", live, methods=["GET"], name="live"),
    Route("/live/numbers", numbers, methods=["GET"], name="live_numbers"),
]
