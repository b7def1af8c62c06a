"""The server's own routes: liveness, readiness, Prometheus metrics and ``/docs``, the page of
the OpenAPI document (the document itself is in :mod:`prodml.serve.routes`, which holds
every route).

``/health/live`` answers 200 as soon as the process serves HTTP; ``/health/ready`` 200
once every endpoint's model is loaded (503 before, with what is missing), which is what a
load balancer or ``prodml serve`` itself waits for. Its ``status`` is ``loading`` (503),
``ready`` (200), or ``degraded`` (200: every endpoint answers, but one failed to load its
new primary and answers with the version it had; ``errors`` says, per endpoint, why)::

    {"status": "degraded", "endpoints": {"loans": "loans:1"},
     "errors": {"loans": "IntegrityError: model loans:2: artifact ... was changed ..."}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from prodml.serve.http import Call, Route, json_response
from prodml.serve.metrics import CONTENT_TYPE
from prodml.serve.openapi import page
from prodml.serve.rejection import Rejected

if TYPE_CHECKING:
    from prodml.serve.service import Service


def error(rejected: Rejected) -> Response:
    return json_response({"error": rejected.message}, rejected.status)


async def live(request: Request, service: Service, call: Call) -> Response:
    return json_response({"status": "live"})


async def ready(request: Request, service: Service, call: Call) -> Response:
    endpoints = {
        name: None if e.predictor is None else e.predictor.served.model_id
        for name, e in service.endpoints.items()
    }
    errors = {name: e.error for name, e in service.endpoints.items() if e.error}
    if not service.ready:
        return json_response({"status": "loading", "endpoints": endpoints, "errors": errors}, 503)
    if errors:
        return json_response({"status": "degraded", "endpoints": endpoints, "errors": errors})
    return json_response({"status": "ready", "endpoints": endpoints})


async def metrics(request: Request, service: Service, call: Call) -> Response:
    return Response(service.metrics.exposition(), media_type=CONTENT_TYPE)


async def docs(request: Request, service: Service, call: Call) -> Response:
    html, policy = page()
    return Response(html, media_type=HTML, headers={"Content-Security-Policy": policy})


HTML = "text/html; charset=utf-8"

ROUTES = [
    Route("GET", "/health/live", "health", live, "The process serves HTTP"),
    Route("GET", "/health/ready", "health", ready, "Every model is loaded", None, (200, 503)),
    Route(
        "GET",
        "/metrics",
        "health",
        metrics,
        "Prometheus metrics (text format)",
        reply={CONTENT_TYPE: {"type": "string"}},
    ),
    Route(
        "GET",
        "/docs",
        "health",
        docs,
        "This document as a page: read it, and try each route in a browser",
        reply={HTML: {"type": "string"}},
    ),
]
