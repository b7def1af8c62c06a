"""The admin routes: deployment changes over HTTP, each needing an ``operator`` key (the
state a ``viewer`` key), made as the key's name; what ``prodml deploy``, ``promote``,
``rollback`` and ``deploy --stop`` do on the command line.

``POST /admin/deploy`` takes ``{"ref": "loans:2", "mode": "canary", "ramp": [5, 50, 100],
"step": "10m", "min_requests": 500, "reason": "..."}`` (``mode`` shadow with ``sample``,
or blue-green; none for the first primary); ``POST /admin/promote``, ``/admin/rollback``
and ``/admin/stop`` take ``{"endpoint": "loans", "reason": "..."}`` (promote and deploy
also ``"force": true``); ``POST /admin/automation`` takes ``{"endpoint": "loans", "level":
"partial", "target_error": 0.02}`` (or ``defer_below``, and ``audit_sample``), what
``prodml automation`` does. Each answers the endpoint's deployment as ``prodml deployments
--json`` prints it; a change the state does not allow is a 409, a bad value a 422, an
unknown endpoint or version a 404, each with the one line the command line prints.
The API keys have routes of their own, beside these (:mod:`prodml.serve.protocols.keys`),
whose bodies :func:`read_checked` checks the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from prodml.automation.levels import LEVELS
from prodml.automation.setting import automate
from prodml.config import window_seconds
from prodml.deploy.changes import Deployer
from prodml.errors import ConfigError, DeploymentError, NotFoundError
from prodml.registry import Deployment, Registry
from prodml.serve.http import (
    JSON,
    Body,
    Call,
    Route,
    Schema,
    json_response,
    parse_json,
    read_body,
    require_object,
)
from prodml.serve.rejection import Rejected, shown

if TYPE_CHECKING:
    from prodml.serve.service import Service

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
}


def object_schema(fields: dict[str, Schema], required: Sequence[str]) -> Schema:
    """The JSON Schema of a body of ``fields``, ``required`` among them, and no others."""
    return {
        "type": "object",
        "required": list(required),
        "properties": fields,
        "additionalProperties": False,
    }


async def read_checked(
    request: Request, service: Service, action: str, schema: Schema, example: str
) -> dict[str, Any]:
    """The request's JSON object, each field of its type in ``schema`` (an
    :func:`object_schema`); 400 for a body that is not an object like ``example``, 422
    naming the first field that is unknown, of the wrong type or missing."""
    body = parse_json(await read_body(request, service.options.max_body))
    data = require_object(body, "the body", example)
    fields: dict[str, Schema] = schema["properties"]
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            raise Rejected(
                422, f"unknown key {shown(key)}; {action} takes: {', '.join(fields)}", key
            )
        allowed = field.get("enum")
        kinds = field.get("type", [])
        names = kinds if isinstance(kinds, list) else [kinds]  # one JSON type, or several
        wanted = tuple(t for name in names for t in _TYPES.get(name, ()))
        bad = value not in allowed if allowed else not isinstance(value, wanted)
        if bad or (wanted and isinstance(value, bool) and bool not in wanted):
            what = " or ".join(allowed) if allowed else f"a JSON {' or '.join(names)}"
            raise Rejected(422, f"{key} is {shown(value)}; give {what}", key)
    for key in schema["required"]:
        if key not in data:
            raise Rejected(422, f'{action} needs "{key}"', key)
    return data


#: The body of each change: its fields, and their JSON types.
_SCHEMAS: dict[str, Schema] = {
    "deploy": object_schema(
        {
            "ref": {"type": "string", "description": "name:VERSION"},
            "mode": {"enum": ["shadow", "canary", "blue-green"]},
            "sample": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "ramp": {"type": "array", "items": {"type": "number"}},
            "step": {"type": "string", "description": "30s, 10m, 1h"},
            "min_requests": {"type": "integer", "minimum": 1},
            "force": {"type": "boolean"},
            "reason": {"type": "string"},
        },
        ["ref"],
    ),
    "promote": object_schema(
        {
            "endpoint": {"type": "string"},
            "force": {"type": "boolean"},
            "reason": {"type": "string"},
        },
        ["endpoint"],
    ),
    "rollback": object_schema(
        {"endpoint": {"type": "string"}, "reason": {"type": "string"}}, ["endpoint"]
    ),
    "stop": object_schema(
        {"endpoint": {"type": "string"}, "reason": {"type": "string"}}, ["endpoint"]
    ),
    "automation": object_schema(
        {
            "endpoint": {"type": "string"},
            "level": {"enum": list(LEVELS)},
            "defer_below": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "target_error": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "audit_sample": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
            "reason": {"type": "string"},
        },
        ["endpoint", "level"],
    ),
}
_EXAMPLE = '{"endpoint": "loans"}'
_EXAMPLES: dict[str, dict[str, Any]] = {
    "deploy": {"ref": "model:2", "mode": "shadow"},
    "automation": {"endpoint": "model", "level": "partial", "target_error": 0.02},
}


def registry_of(service: Service) -> Registry:
    registry = getattr(service.source, "registry", None)
    if not isinstance(registry, Registry):
        raise Rejected(
            409, "this server serves a run (prodml serve --run), not the registry's deployments"
        )
    return registry


def _change(action: str, make: Callable[[Deployer, dict[str, Any]], Deployment]) -> Any:
    async def handler(request: Request, service: Service, call: Call) -> Response:
        registry = registry_of(service)
        data = await read_checked(request, service, action, _SCHEMAS[action], _EXAMPLE)
        deployer = Deployer(registry, actor=call.actor or "anonymous")
        try:
            deployment = await asyncio.to_thread(make, deployer, data)
        except NotFoundError as exc:
            raise Rejected(404, str(exc)) from None
        except DeploymentError as exc:  # the gate's refusals included
            raise Rejected(409, str(exc)) from None
        except ConfigError as exc:
            raise Rejected(422, str(exc)) from None
        return json_response(dataclasses.asdict(deployment))

    return handler


def _deploy(deployer: Deployer, data: dict[str, Any]) -> Deployment:
    options: dict[str, Any] = {
        key: data[key]
        for key in ("sample", "ramp", "min_requests", "force", "reason")
        if key in data
    }
    if "step" in data:
        try:
            options["step_seconds"] = window_seconds(data["step"])
        except ValueError as exc:
            raise ConfigError(f"step {exc}") from None
    return deployer.deploy(data["ref"], data.get("mode"), **options)


async def deployments(request: Request, service: Service, call: Call) -> Response:
    registry = registry_of(service)
    found = await asyncio.to_thread(registry.deployments)
    return json_response([dataclasses.asdict(d) for d in found])


def _route(
    action: str, summary: str, make: Callable[[Deployer, dict[str, Any]], Deployment]
) -> Route:
    example = _EXAMPLES.get(action, {"endpoint": "model"})
    return Route(
        "POST",
        f"/admin/{action}",
        "native",
        _change(action, make),
        summary,
        body={JSON: Body(_SCHEMAS[action], lambda record: example)},
        answers=(200, 400, 401, 403, 404, 409, 413, 422),
        role="operator",
    )


ROUTES = [
    Route(
        "GET",
        "/admin/deployments",
        "native",
        deployments,
        "Every endpoint's deployment: primary, candidate, share, ramp step, previous",
        answers=(200, 401, 403, 409),
        reply={JSON: {"type": "array", "items": {"type": "object"}}},
        role="viewer",
    ),
    _route("deploy", "Deploy a version: the first primary, or a candidate beside it", _deploy),
    _route(
        "promote",
        "Make the candidate the primary (the audit gate applies)",
        lambda d, b: d.promote(b["endpoint"], force=b.get("force", False), reason=b.get("reason")),
    ),
    _route(
        "rollback",
        "End a canary, or serve the previous primary again",
        lambda d, b: d.rollback(b["endpoint"], reason=b.get("reason")),
    ),
    _route(
        "stop",
        "Drop the candidate",
        lambda d, b: d.stop(b["endpoint"], reason=b.get("reason")),
    ),
    _route(
        "automation",
        "Set who decides an endpoint's predictions: the model, or a person below a threshold",
        lambda d, b: automate(d, b["endpoint"], b["level"], **_without(b, "endpoint", "level")),
    ),
]


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}
