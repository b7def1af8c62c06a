"""Every route of the server in one table, and the wrapper that makes each handler a
Starlette endpoint: it times the request, counts it by endpoint, protocol, model version
and status, and turns a :class:`~prodml.serve.rejection.Rejected` (or an unexpected
failure, as a 500 whose cause is logged) into the protocol's own error body. The handler
of a route with a role is wrapped once more, in the check of the request's API key (401
without a usable one, 403 with one of a lower role; see :class:`~prodml.serve.http.Route`).

>>> [(r.method, r.path) for r in ROUTES if r.protocol == "mlflow"]
[('POST', '/invocations'), ('GET', '/ping'), ('GET', '/health')]
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from prodml.errors import KeyRequired, RoleTooLow, shortened
from prodml.serve.http import JSON, Call, ErrorBody, Handler, Route, Wire, json_response
from prodml.serve.openapi import document
from prodml.serve.protocols import admin, feedback, health, mlflow, native, review, v2
from prodml.serve.protocols import keys as key_routes
from prodml.serve.protocols.v2 import server_version
from prodml.serve.rejection import SHOWN, Rejected

if TYPE_CHECKING:
    from prodml.deploy.keys import Keys, Role
    from prodml.serve.service import Service

logger = logging.getLogger("prodml.serve")


async def _openapi(request: Request, service: Service, call: Call) -> Response:
    """The OpenAPI document, with the input fields of the first endpoint's model; before
    it is loaded, the document of the routes alone, which the app made at its start."""
    predictor = service.endpoints[service.default_endpoint].predictor
    if predictor is None:
        return Response(request.app.state.openapi, media_type=JSON)
    return json_response(document(request.app.state.routes, server_version(), predictor.served))


ROUTES: list[Route] = [
    *health.ROUTES,
    Route("GET", "/openapi.json", "health", _openapi, "This document"),
    *native.ROUTES,
    *feedback.ROUTES,
    *mlflow.ROUTES,
    *v2.ROUTES,
    *admin.ROUTES,
    *key_routes.ROUTES,
    *review.ROUTES,
]
ERRORS: dict[Wire, ErrorBody] = {
    "native": native.error,
    "mlflow": mlflow.error,
    "v2": v2.error,
    "health": health.error,
}

Endpoint = Callable[[Request], Awaitable[Response]]


def starlette_routes(routes: Sequence[Route], keys: Keys | None = None) -> list[StarletteRoute]:
    """The Starlette routes of ``routes``, each handler wrapped (see the module docstring);
    ``keys`` (None: the server has no store, so no keys) admit requests to routes with a role.
    """
    return [
        StarletteRoute(route.path, _wrapped(route, keys), methods=[route.method])
        for route in routes
    ]


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


def _wrapped(route: Route, keys: Keys | None) -> Endpoint:
    handler, protocol, error = route.handler, route.protocol, ERRORS[route.protocol]
    if route.role is not None:
        handler = _guarded(route, route.role, keys)

    async def endpoint(request: Request) -> Response:
        call = Call()
        service = request.app.state.service
        metrics = service.metrics
        metrics.in_flight.inc()
        try:
            response = await handler(request, service, call)
        except Rejected as rejected:
            response = error(rejected)
            response.headers.update(rejected.headers)
        except Exception:
            logger.exception("%s %s failed", request.method, request.url.path)
            response = error(Rejected(500, "the server failed on this request; see its log"))
        finally:
            metrics.in_flight.dec()
        if call.model:  # which version answered, and how (MLflow's body has no room for it)
            response.headers["X-Prodml-Model"] = call.model
            response.headers["X-Prodml-Role"] = call.role
        elapsed = time.perf_counter() - call.started
        status = response.status_code
        metrics.request(call.endpoint, protocol, call.version, status, elapsed)
        # only a request that reached a served endpoint counts in its error rate: a 404
        # for a model that does not exist must not raise (and alert on) a real one's
        if status >= 400 and route.predicts and service.log is not None and call.endpoint:
            version = int(call.version) if call.version.isdecimal() else None
            service.log.write_error(call.endpoint, protocol, status, elapsed, version)
        return response

    return endpoint


def _guarded(route: Route, role: Role, keys: Keys | None) -> Handler:
    """``route``'s handler, called once the request's key is of ``role`` or above."""
    handler, what = route.handler, f"{route.method} {route.path}"

    def admit(store: Keys, authorization: str | None) -> str:
        if route.until_keys and not store.any_made():
            return ""
        return store.check(authorization, role).name

    async def guarded(request: Request, service: Service, call: Call) -> Response:
        if route.opened_by is not None and getattr(service.options, route.opened_by):
            return await handler(request, service, call)
        if keys is None:
            if route.until_keys:  # no store, so no key can ever exist
                return await handler(request, service, call)
            raise Rejected(
                403,
                f"{what} needs a key of role {role}, and this server has no key store; "
                "serve a project (prodml serve) and create one with "
                f"`prodml keys create NAME --role {role}`",
            )
        try:
            # off the event loop: the keys are read from the store every few seconds
            call.actor = await asyncio.to_thread(admit, keys, request.headers.get("authorization"))
        except (KeyRequired, RoleTooLow) as denied:
            challenge = {"WWW-Authenticate": "Bearer"} if denied.status == 401 else None
            raise Rejected(denied.status, f"{what}: {denied}", headers=challenge) from None
        return await handler(request, service, call)

    return guarded


def _protocol(path: str) -> Wire:
    if path.startswith("/v2"):
        return "v2"
    if path in ("/invocations", "/ping", "/health"):
        return "mlflow"
    if path.startswith("/predict"):
        return "native"
    return "health"
