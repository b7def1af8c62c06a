"""prodml's own API: ``POST /predict`` with records in, a label, probabilities, the model
and a request id a record out.

Request: ``{"records": [{"income": 52000, ...}, ...], "endpoint": "loans"}`` (``endpoint``
optional: the server's first); a record may carry the project's ``data.metadata`` fields
beside the inputs (``"gender": "female"``), logged with its row, never given to the model
(:mod:`prodml.serve.metadata`). Answer: ``{"predictions": [{"label": 1, "probabilities":
{"0": 0.2, "1": 0.8}, "status": "decided", "decided_by": "model", "model": "loans:3",
"request_id": "..."}]}`` (a regressor answers ``"value"`` instead of label and
probabilities). ``status`` is ``deferred`` when a person decides the row (the endpoint's
automation, :mod:`prodml.serve.deferral`): its label and probabilities are the model's
suggestion, left out at level ``human``. The header ``X-Prodml-Decided-By`` says who
decided each row, comma-separated. Errors: ``{"error": message, "field":
name or null}`` with the status of :mod:`prodml.serve.rejection`, 422 for a record that
does not fit the schema.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from prodml.serve import sticky
from prodml.serve.http import (
    JSON,
    RECORD,
    Body,
    Call,
    Route,
    Schema,
    json_response,
    media_type,
    parse_json,
    read_body,
    require_list,
    require_object,
)
from prodml.serve.rejection import Rejected, shown
from prodml.serve.request_ids import new_ids

if TYPE_CHECKING:
    from prodml.serve.service import Service


def error(rejected: Rejected) -> Response:
    return json_response({"error": rejected.message, "field": rejected.field}, rejected.status)


async def predict(request: Request, service: Service, call: Call) -> Response:
    with service.arrival():
        body = await read_body(request, service.options.max_body)
        kind, _ = media_type(request)
        if kind not in (None, JSON):
            raise Rejected(415, f"Content-Type {kind} is not read here; send {JSON}")
        data = require_object(parse_json(body), "the body", '{"records": [{...}]}')
        unknown = [key for key in data if key not in ("records", "endpoint")]
        if unknown:
            raise Rejected(
                400, f"unknown key {shown(unknown[0])} in the body; keys are: records, endpoint"
            )
        endpoint = data.get("endpoint")
        if endpoint is not None and type(endpoint) is not str:
            raise Rejected(400, "endpoint must be text: the name of a served model", "endpoint")
        first = partial(sticky.in_first, data.get("records"))
        predictor = service.predictor(endpoint, key=sticky.key(request, service.options, first))
        call.answered_by(predictor)
        if "records" not in data:
            raise Rejected(400, 'the body has no "records"; send {"records": [{...}]}', "records")
        records = require_list(data["records"], '"records"')
        rows = predictor.checker.records(records)
        carried = predictor.metadata.records(records)
        ids = new_ids(len(rows))
        pending = service.submit(predictor, rows, ids, call.started, carried)
    answer = await pending
    model, role = answer.served.model_id, predictor.role
    return json_response(
        {
            "predictions": [
                {
                    **(answer.outputs(i) if answer.shown(i) else {}),
                    "status": answer.status(i),
                    "decided_by": answer.decided_by(i),
                    "model": model,
                    "role": role,
                    "request_id": request_id,
                }
                for i, request_id in enumerate(ids)
            ]
        },
        headers=answer.headers(),
    )


_BODY: Schema = {
    "type": "object",
    "required": ["records"],
    "properties": {
        "records": {"type": "array", "items": RECORD},
        "endpoint": {"type": "string", "description": "the served model (default: the first)"},
    },
    "additionalProperties": False,
}
_PREDICTION: Schema = {
    "type": "object",
    "required": ["status", "decided_by", "model", "role", "request_id"],
    "properties": {
        "label": {"description": "the predicted class (a classifier)"},
        "probabilities": {"type": "object", "additionalProperties": {"type": "number"}},
        "value": {"type": "number", "description": "the prediction of a regressor"},
        "status": {
            "type": "string",
            "enum": ["decided", "deferred"],
            "description": "deferred: a person decides (the answer shown is a suggestion, "
            "none at level human)",
        },
        "decided_by": {"type": "string", "enum": ["model", "person", "fallback"]},
        "model": {"type": "string", "description": "name:version"},
        "role": {
            "type": "string",
            "description": "how that version answered: primary, canary or blue-green",
        },
        "request_id": {"type": "string", "description": "the id POST /feedback takes"},
    },
}

ROUTES = [
    Route(
        "POST",
        "/predict",
        "native",
        predict,
        "Predict records: label and probabilities (or value), model and request id each",
        body={JSON: Body(_BODY, lambda record: {"records": [record]})},
        answers=(200, 400, 404, 413, 415, 422, 500, 503),
        predicts=True,
        reply={
            JSON: {
                "type": "object",
                "required": ["predictions"],
                "properties": {"predictions": {"type": "array", "items": _PREDICTION}},
            }
        },
    ),
]
