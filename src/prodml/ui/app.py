"""The dashboard as an ASGI app: its pages under ``/ui``, for ``prodml ui`` on its own and
for ``prodml serve`` (``serve.ui: true``), which mounts the same :func:`mount`.

Every page is a template (:mod:`prodml.ui.render`); htmx, uPlot and the style are files of
this package (``static/``), so it works offline. A mistake the visitor can fix is an
answer of status 4xx naming it (a prodml error's own line), never a 500: 401 asks to sign
in, 403 says which role or token is missing, 404 names what is not there, 409 a change
the state does not allow, 422 a value that is not allowed.

>>> import prodml, tempfile
>>> from starlette.testclient import TestClient
>>> project = prodml.Project(prodml.init(tempfile.mkdtemp() + "/bc", example="breast-cancer"))
>>> with TestClient(create_ui(project), client=("127.0.0.1", 50000)) as client:
...     client.get("/ui/runs").status_code
200
>>> project.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prodml.errors import (
    ConfigError,
    DataError,
    DeploymentError,
    KeyRequired,
    NotFoundError,
    ProdmlError,
    ReviewError,
    RoleTooLow,
)
from prodml.ui.access import SESSION_COOKIE, SESSION_SECONDS
from prodml.ui.pages import alerts, live, models, monitoring, overview, review, runs, signin
from prodml.ui.render import FOLDER, MOUNT_NAME, page
from prodml.ui.secret import session_secret
from prodml.ui.server_metrics import MetricsSource
from prodml.ui.state import Dashboard

if TYPE_CHECKING:
    from prodml.project import Project

#: where the dashboard lives, on its own and in ``prodml serve``
PREFIX = "/ui"
#: each error's status; the first class that matches wins (a subclass before its base)
STATUSES: tuple[tuple[type[ProdmlError], int], ...] = (
    (KeyRequired, 401),
    (RoleTooLow, 403),
    (NotFoundError, 404),
    (DeploymentError, 409),
    (ReviewError, 409),
    (ConfigError, 422),
    (DataError, 422),
    (ProdmlError, 400),
)
#: what a page may load: only this site's own files (no CDN), styles inline too (uPlot's)
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)
PAGES = (
    overview.ROUTES,
    signin.ROUTES,
    runs.ROUTES,
    models.ROUTES,
    review.ROUTES,
    alerts.ROUTES,
    monitoring.ROUTES,
    live.ROUTES,
)


def dashboard_app(project: Project, servers: Sequence[MetricsSource] = ()) -> Starlette:
    """The dashboard's pages for ``project``, at the root of the app (mount it); the live
    page reads the ``/metrics`` of ``servers``."""
    board = Dashboard.open(project, servers)
    routes: list[BaseRoute] = [route for routes in PAGES for route in routes]
    routes.append(Mount("/static", StaticFiles(directory=FOLDER / "static"), name="static"))
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(_SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=session_secret(project.runs_store.artifacts),
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_SECONDS,
                path=PREFIX,
                same_site="lax",
            ),
        ],
        exception_handlers={ProdmlError: _refused, HTTPException: _refused},
    )
    app.state.dashboard = board
    return app


def mount(project: Project, servers: Sequence[MetricsSource] = ()) -> Mount:
    """The dashboard of ``project`` mounted at ``/ui``, to add to an app's routes."""
    return Mount(PREFIX, app=dashboard_app(project, servers), name=MOUNT_NAME)


def create_ui(project: Project, servers: Sequence[MetricsSource] = ()) -> Starlette:
    """``prodml ui``'s app: the dashboard at ``/ui``, and ``/`` sending there."""
    return Starlette(routes=[Route("/", _to_dashboard), mount(project, servers)])


def _to_dashboard(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", 307)


async def _refused(request: Request, exc: Exception) -> Response:
    """An error's page (or, for htmx, its fragment): its status and its line."""
    if isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
    else:
        status = next(code for kind, code in STATUSES if isinstance(exc, kind))
        message = str(exc)
    if status == 401:
        return page(request, "signin.html", None, status, message=message, next=request.url.path)
    fragment = request.headers.get("HX-Request") == "true"  # htmx swaps it into the page
    template = "error_fragment.html" if fragment else "error.html"
    return page(request, template, None, status, message=message)


class _SecurityHeaders:
    """Adds :data:`POLICY` and the headers that keep pages from being sniffed or framed
    by other sites to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"SAMEORIGIN"),
                    (b"referrer-policy", b"same-origin"),
                ]
            await send(message)

        await self.app(scope, receive, sending)
