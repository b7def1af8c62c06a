"""``POST /feedback``: true labels for logged predictions, by the request id each answer
carried.

Request: ``{"feedback": [{"request_id": "...", "label": 1}, ...]}``, or one
``{"request_id": "...", "label": 1}``. Labels may come late, for some predictions only,
or more than once (the last one received counts). An id that was never logged is a 404
naming it, and nothing of that request is stored. Answer: ``{"stored": n}``.

Anyone may send labels until the store holds an API key; from then on a key of role
reviewer or above (``serve.open_feedback: true`` keeps it open).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from prodml.errors import NotFoundError, shortened
from prodml.serve.http import (
    JSON,
    Body,
    Call,
    Route,
    Schema,
    json_response,
    parse_json,
    read_body,
    require_list,
    require_object,
)
from prodml.serve.rejection import SHOWN, Rejected, shown
from prodml.store.monitoring import Monitoring

if TYPE_CHECKING:
    from prodml.serve.service import Service

_EXAMPLE = '{"feedback": [{"request_id": "...", "label": 1}]}'


async def feedback(request: Request, service: Service, call: Call) -> Response:
    if service.log is None:
        raise Rejected(503, "this server keeps no prediction log, so it takes no feedback")
    data = require_object(
        parse_json(await read_body(request, service.options.max_body)), "the body", _EXAMPLE
    )
    items = require_list(data["feedback"], '"feedback"') if "feedback" in data else [data]
    pairs = [_pair(item, i) for i, item in enumerate(items)]
    store = Monitoring(service.log.database)
    try:
        stored, _ = await asyncio.to_thread(store.add_feedback, pairs, "POST /feedback")
    except NotFoundError as exc:
        raise Rejected(404, str(exc), "request_id") from None
    return json_response({"stored": stored})


def _pair(item: Any, i: int) -> tuple[str, Any]:
    where = f"feedback[{i}]"
    entry = require_object(item, where, '{"request_id": "...", "label": 1}')
    unknown = [key for key in entry if key not in ("request_id", "label")]
    if unknown:
        raise Rejected(
            400,
            f"unknown key {shown(unknown[0])} in {where}; keys are: request_id, label",
            shortened(unknown[0], SHOWN),
        )
    request_id, label = entry.get("request_id"), entry.get("label")
    if type(request_id) is not str or not request_id:
        raise Rejected(
            400,
            f"{where}.request_id is {shown(request_id)}; give the request_id of an answer",
            "request_id",
        )
    if label is None or isinstance(label, dict | list):
        raise Rejected(
            400,
            f"{where}.label is {shown(label)}; give the true label: a number, text or a boolean",
            "label",
        )
    return request_id, label


_LABEL: Schema = {
    "type": "object",
    "required": ["request_id", "label"],
    "properties": {
        "request_id": {"type": "string", "minLength": 1, "description": "from an answer"},
        "label": {"type": ["number", "string", "boolean"], "description": "the true label"},
    },
    "additionalProperties": False,
}
_BODY: Schema = {
    "oneOf": [
        _LABEL,
        {
            "type": "object",
            "required": ["feedback"],
            "properties": {"feedback": {"type": "array", "items": _LABEL}},
            "additionalProperties": False,
        },
    ]
}


def _example(record: dict[str, Any]) -> Any:
    return {"feedback": [{"request_id": "the request_id of an answer", "label": 1}]}


ROUTES = [
    Route(
        "POST",
        "/feedback",
        "native",
        feedback,
        "True labels for logged predictions, by request id (the last one counts)",
        body={JSON: Body(_BODY, _example)},
        answers=(200, 400, 404, 413, 503),
        reply={
            JSON: {
                "type": "object",
                "required": ["stored"],
                "properties": {"stored": {"type": "integer", "minimum": 0}},
            }
        },
        role="reviewer",
        until_keys=True,
        opened_by="open_feedback",
    ),
]
