"""The review routes: the review queue over HTTP for people (or a labelling tool) deciding
what the model deferred, each needing a ``reviewer`` key and acting as that key's name;
what ``prodml review list``, ``next`` and ``answer`` do on the command line.

``GET /review`` lists the open items (``?endpoint=loans&limit=50``); ``POST /review/next``
takes ``{}`` or ``{"endpoint": "loans"}`` and leases the open item of highest priority to
the caller for 10 minutes, answering ``{"item": {...}}`` (``{"item": null}`` when there is
none); ``POST /review/answer`` takes ``{"request_id": "...", "label": 1, "note": "..."}``
from the holder of the lease. An item not leased to the caller, whose lease ran out, or
already answered is a 409; an unknown request id a 404; a label that is not one of the
model's classes a 422, each with the line the command line prints.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from prodml.errors import ConfigError, NotFoundError, ReviewError
from prodml.serve.http import JSON, Body, Call, Route, Schema, json_response
from prodml.serve.protocols.admin import object_schema, read_checked, registry_of
from prodml.serve.rejection import Rejected
from prodml.store.review import ReviewItem, ReviewQueue

if TYPE_CHECKING:
    from prodml.serve.service import Service

_NEXT = object_schema({"endpoint": {"type": "string"}}, [])
_ANSWER = object_schema(
    {
        "request_id": {"type": "string"},
        "label": {
            "type": ["string", "number", "boolean"],
            "description": "one of the model's classes",
        },
        "note": {"type": "string"},
    },
    ["request_id", "label"],
)
_ITEM: Schema = {"type": "object", "description": "a review item, as prodml review list --json"}
_MOST = 1_000


def _queue(service: Service) -> ReviewQueue:
    return ReviewQueue(registry_of(service).database)


def _shown(item: ReviewItem | None) -> Any:
    return None if item is None else dataclasses.asdict(item)


async def listed(request: Request, service: Service, call: Call) -> Response:
    endpoint = request.query_params.get("endpoint")
    text = request.query_params.get("limit", "100")
    if not text.isdigit() or not 0 < int(text) <= _MOST:
        raise Rejected(422, f"limit is {text!r}; give a whole number from 1 to {_MOST}", "limit")
    found = await asyncio.to_thread(_queue(service).items, endpoint, limit=int(text))
    return json_response([_shown(item) for item in found])


async def take(request: Request, service: Service, call: Call) -> Response:
    data = await read_checked(request, service, "next", _NEXT, '{"endpoint": "loans"}')
    reviewer = call.actor or "anonymous"
    item = await asyncio.to_thread(_queue(service).next, reviewer, data.get("endpoint"))
    return json_response({"item": _shown(item)})


async def answer(request: Request, service: Service, call: Call) -> Response:
    example = '{"request_id": "...", "label": 1}'
    data = await read_checked(request, service, "answer", _ANSWER, example)
    queue, reviewer = _queue(service), call.actor or "anonymous"
    try:
        done = await asyncio.to_thread(
            queue.answer, data["request_id"], reviewer, data["label"], data.get("note")
        )
    except NotFoundError as exc:
        raise Rejected(404, str(exc), "request_id") from None
    except ReviewError as exc:
        raise Rejected(409, str(exc), "request_id") from None
    except ConfigError as exc:
        raise Rejected(422, str(exc), "label") from None
    return json_response({"item": _shown(done)})


ROUTES = [
    Route(
        "GET",
        "/review",
        "native",
        listed,
        "The open review items, highest priority first (?endpoint=, ?limit=)",
        answers=(200, 401, 403, 409, 422),
        reply={JSON: {"type": "array", "items": _ITEM}},
        role="reviewer",
    ),
    Route(
        "POST",
        "/review/next",
        "native",
        take,
        "Lease the open item of highest priority to the caller for 10 minutes",
        body={JSON: Body(_NEXT, lambda record: {"endpoint": "loans"})},
        answers=(200, 400, 401, 403, 409, 413, 422),
        reply={JSON: {"type": "object", "properties": {"item": _ITEM}}},
        role="reviewer",
    ),
    Route(
        "POST",
        "/review/answer",
        "native",
        answer,
        "Answer a leased item; once it has its answers, the label becomes feedback",
        body={JSON: Body(_ANSWER, lambda record: {"request_id": "0193f2c1", "label": 1})},
        answers=(200, 400, 401, 403, 404, 409, 413, 422),
        reply={JSON: {"type": "object", "properties": {"item": _ITEM}}},
        role="reviewer",
    ),
]
