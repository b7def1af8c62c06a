"""The ASGI app: the routes of :mod:`prodml.serve.routes` over a :class:`Service`.

>>> import prodml, tempfile
>>> from prodml.serve.source import RunSource
>>> project = prodml.Project(prodml.init(tempfile.mkdtemp() + "/bc", example="breast-cancer"))
>>> app = create_app(RunSource(project, project.fit().id), log=None)
>>> [route.path for route in app.routes][:4]
['/health/live', '/health/ready', '/metrics', '/docs']
>>> project.close()
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from prodml.serve.dispatch import Dispatch
from prodml.serve.fallback import Fallback
from prodml.serve.metrics import Metrics
from prodml.serve.openapi import document
from prodml.serve.options import ServeOptions
from prodml.serve.prediction_log import PredictionLog
from prodml.serve.protocols.v2 import server_version
from prodml.serve.routes import ROUTES, starlette_routes, unrouted
from prodml.serve.service import Service
from prodml.serve.source import Source
from prodml.store.monitoring import Monitoring

if TYPE_CHECKING:
    from prodml.deploy.keys import Keys
    from prodml.project import Project


def create_app(
    source: Source,
    endpoints: Sequence[str] | None = None,
    *,
    log: PredictionLog | None,
    options: ServeOptions | None = None,
    on_stop: Callable[[], None] | None = None,
    keys: Keys | None = None,
    fallback: Fallback | None = None,
    ui: Project | None = None,
) -> Starlette:
    """An app serving ``endpoints`` (default: all of ``source``'s), logging to ``log``.

    ``log=None`` answers without logging, for measuring what the log costs; a served
    prediction must be logged in production. The app starts loading the models when
    it starts and stops the log (after committing what waits) when it stops, then
    calls ``on_stop`` (to close what the source holds open, such as a project).

    ``keys`` admit requests to the routes that need a role (see
    :class:`~prodml.serve.http.Route`); without them no key exists, so feedback is open and
    the admin routes answer 403. ``options.admin`` false leaves the admin routes out.
    ``fallback`` answers when a model fails (see :mod:`~prodml.serve.fallback`). With
    ``ui``, a project, its dashboard is at ``/ui`` (see :mod:`prodml.ui`).
    """
    options = options or ServeOptions()
    routes = [route for route in ROUTES if options.admin or not route.admin]
    metrics = Metrics()
    if log is not None:
        metrics.watch(Monitoring(log.database))
    served = list(endpoints or source.endpoints())
    service = Service(source, served, log, options, metrics, fallback)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            if on_stop is not None:
                on_stop()

    wrapped = starlette_routes(routes, keys)
    served_routes: list[BaseRoute] = [*wrapped]
    # the prediction routes of a fixed path skip Starlette's router (see prodml.serve.dispatch)
    direct = {
        route.path: made.endpoint
        for route, made in zip(routes, wrapped, strict=True)
        if route.predicts and route.method == "POST" and "{" not in route.path
    }
    if ui is not None:
        from prodml.ui.app import mount  # the dashboard, only when asked for
        from prodml.ui.server_metrics import MetricsSource

        served_routes.append(mount(ui, [MetricsSource("this server", metrics.exposition)]))
    app = Starlette(
        routes=served_routes,
        middleware=[Middleware(Dispatch, endpoints=direct)],
        exception_handlers={HTTPException: unrouted},
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.keys = keys  # what the key routes make, list and revoke
    app.state.routes = routes
    app.state.openapi = orjson.dumps(document(routes, server_version()))
    return app
