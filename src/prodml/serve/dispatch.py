"""The prediction routes of a fixed path (``POST /predict``, ``POST /invocations``) called
straight from the request's path, as the middleware closest to the server.

Starlette's exception middleware, its router's walk over every route (a regular
expression each) and the exception wrapper around each route cost about a tenth of a
single-row prediction, and none of them acts on these routes: their endpoint
(:mod:`prodml.serve.routes`) answers every failure itself, as the protocol's error body.
Every other request, or one under a ``root_path``, goes the usual way.

>>> import asyncio
>>> from starlette.responses import Response
>>> async def fast(request): return Response(b"fast")
>>> async def usual(scope, receive, send): print("the usual way")
>>> app = Dispatch(usual, {"/predict": fast})
>>> sent = []
>>> async def send(message): sent.append(message)
>>> scope = {"type": "http", "method": "POST", "path": "/predict", "headers": []}
>>> asyncio.run(app(scope, None, send)); sent[-1]["body"]
b'fast'
>>> asyncio.run(app({**scope, "method": "GET"}, None, send))
the usual way
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from prodml.serve.routes import Endpoint


class Dispatch:
    """``endpoints`` (by path, each a POST route's) called directly; the rest by ``app``."""

    def __init__(self, app: ASGIApp, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                response = await endpoint(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
