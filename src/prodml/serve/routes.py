"""Every route of the server in one table, and the wrapper that makes each handler a
Starlette endpoint: it times the request, counts it by endpoint, protocol, model version
and status, and turns a :class:`~prodml.serve.rejection.Rejected` (or an unexpected
failure, as a 500 whose cause is logged) into the protocol's own error body.

>>> [(r.method, r.path) for r in ROUTES if r.protocol == "mlflow"]
[('POST', '/invocations'), ('GET', '/ping'), ('GET', '/health')]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from prodml.errors import shortened
from prodml.serve.http import JSON, Call, ErrorBody, Route, Wire, json_response
from prodml.serve.openapi import document
from prodml.serve.protocols import feedback, health, mlflow, native, v2
from prodml.serve.protocols.v2 import server_version
from prodml.serve.rejection import SHOWN, Rejected

if TYPE_CHECKING:
    from prodml.serve.service import Service

logger = logging.getLogger("prodml.serve")


async def _openapi(request: Request, service: Service, call: Call) -> Response:
    """The OpenAPI document, with the input fields of the first endpoint's model; before
    it is loaded, the document of the routes alone, which the app made at its start."""
    predictor = service.endpoints[service.default_endpoint].predictor
    if predictor is None:
        return Response(request.app.state.openapi, media_type=JSON)
    return json_response(document(ROUTES, server_version(), predictor.served))


ROUTES: list[Route] = [
    *health.ROUTES,
    Route("GET", "/openapi.json", "health", _openapi, "This document"),
    *native.ROUTES,
    *feedback.ROUTES,
    *mlflow.ROUTES,
    *v2.ROUTES,
]
ERRORS: dict[Wire, ErrorBody] = {
    "native": native.error,
    "mlflow": mlflow.error,
    "v2": v2.error,
    "health": health.error,
}

Endpoint = Callable[[Request], Awaitable[Response]]


def starlette_routes(routes: Sequence[Route]) -> list[StarletteRoute]:
    """The Starlette routes of ``routes``, each handler wrapped (see the module docstring)."""
    return [StarletteRoute(route.path, _wrapped(route), methods=[route.method]) for route in routes]


async def unrouted(request: Request, exc: Exception) -> Response:
    """The answer to a path no route takes (404) or a method its route does not (405)."""
    assert isinstance(exc, HTTPException)
    path, method = shortened(request.url.path, SHOWN), shortened(request.method, SHOWN)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{path} does not take {method}; it takes {allowed}"
    elif exc.status_code == 404:
        message = f"no route {method} {path}; the routes are listed at /openapi.json"
    else:
        message = exc.detail
    protocol = _protocol(path)
    response = ERRORS[protocol](Rejected(exc.status_code, message))
    response.headers.update(exc.headers or {})
    service = request.app.state.service
    service.metrics.request("", protocol, "", response.status_code, 0.0)
    return response


def _wrapped(route: Route) -> Endpoint:
    handler, protocol, error = route.handler, route.protocol, ERRORS[route.protocol]

    async def endpoint(request: Request) -> Response:
        call = Call()
        service = request.app.state.service
        metrics = service.metrics
        metrics.in_flight.inc()
        try:
            response = await handler(request, service, call)
        except Rejected as rejected:
            response = error(rejected)
        except Exception:
            logger.exception("%s %s failed", request.method, request.url.path)
            response = error(Rejected(500, "the server failed on this request; see its log"))
        finally:
            metrics.in_flight.dec()
        elapsed = time.perf_counter() - call.started
        status = response.status_code
        metrics.request(call.endpoint, protocol, call.version, status, elapsed)
        # only a request that reached a served endpoint counts in its error rate: a 404
        # for a model that does not exist must not raise (and alert on) a real one's
        if status >= 400 and route.predicts and service.log is not None and call.endpoint:
            service.log.write_error(call.endpoint, protocol, status, elapsed)
        return response

    return endpoint


def _protocol(path: str) -> Wire:
    if path.startswith("/v2"):
        return "v2"
    if path in ("/invocations", "/ping", "/health"):
        return "mlflow"
    if path.startswith("/predict"):
        return "native"
    return "health"
