"""The monitoring page: an endpoint's windows over time (downsampled in the database),
drift per feature as a heat map, realized performance and change points; a window's
details on a click; the full report (reference and newest window side by side)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from prodml.errors import NotFoundError
from prodml.monitor.html import render
from prodml.store.tables import DriftScoreRow, MonitorWindowRow
from prodml.ui.render import page
from prodml.ui.state import dashboard
from prodml.ui.timeline import timeline


def monitoring(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.visitor(request)
    project = board.project
    known = board.endpoints()
    endpoint = board.endpoint(request, known)
    history = None if endpoint is None else timeline(project.runs_store.database, endpoint)
    return page(
        request,
        "monitoring.html",
        visitor,
        endpoints=known,
        endpoint=endpoint,
        history=history,
        change_points=project.monitoring.change_points(endpoint) if endpoint else [],
        alerts=project.monitoring.alerts(endpoint) if endpoint else [],
    )


def window(request: Request) -> Response:
    """One window's metrics and drift scores (a fragment the page loads on a click)."""
    board = dashboard(request)
    visitor = board.access.visitor(request)
    endpoint, window_id = request.path_params["endpoint"], request.path_params["window"]
    with board.project.runs_store.database.reading() as session:
        found = session.get(MonitorWindowRow, window_id)
        if found is None or found.endpoint != endpoint:
            raise NotFoundError(f"endpoint {endpoint} has no monitor window {window_id}")
        scores = session.scalars(
            select(DriftScoreRow)
            .where(DriftScoreRow.window_id == window_id)
            .order_by(DriftScoreRow.kind, DriftScoreRow.column)
        ).all()
        return page(request, "window.html", visitor, window=found, scores=scores)


def report(request: Request) -> Response:
    """The whole report, as ``prodml monitor report --html`` draws it."""
    board = dashboard(request)
    board.access.visitor(request)
    return HTMLResponse(render(board.project.monitor_report(request.path_params["endpoint"])))


ROUTES = [
    Route("/monitoring", monitoring, methods=["GET"], name="monitoring"),
    Route("/monitoring/{endpoint}/windows/{window:int}", window, methods=["GET"], name="window"),
    Route("/monitoring/{endpoint}/report", report, methods=["GET"], name="monitor_report"),
]
