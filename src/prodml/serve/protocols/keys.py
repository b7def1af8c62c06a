"""The key routes: API keys made, listed and revoked over HTTP, each needing an ``admin``
key; what ``prodml keys create``, ``list`` and ``revoke`` do on the command line.

``POST /admin/keys/create`` takes ``{"name": "ci", "role": "operator"}`` and answers the key's
name, id, role and ``created_at``, and the key itself in ``"key"``: the only time it is
shown, since the store keeps only its hash. ``GET /admin/keys`` lists every key, revoked
ones too, never a key or a hash; ``POST /admin/keys/revoke`` takes ``{"name": "ci"}``
and answers the revoked key. A bad value is a 422 naming it, a name already taken (a
revoked key keeps its name) a 409, revoking an unknown name a 404, each with the line the
command line prints. The store keeps no author of a key, so the server's log says which
key made or revoked each one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from prodml.deploy.keys import MAX_NAME, ROLES, Keys, checked_name
from prodml.errors import KeysError, NotFoundError
from prodml.serve.http import JSON, Body, Call, Route, Schema, json_response
from prodml.serve.protocols.admin import object_schema, read_checked
from prodml.serve.rejection import Rejected

if TYPE_CHECKING:
    from prodml.serve.service import Service

logger = logging.getLogger("prodml.serve")

_NAME: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_NAME,
    "description": "unique in the store, e.g. ci-deployer",
}
_CREATE = object_schema({"name": _NAME, "role": {"enum": list(ROLES)}}, ["name", "role"])
_REVOKE = object_schema({"name": {"type": "string"}}, ["name"])
_KEY: Schema = {
    "type": "object",
    "required": ["name", "id", "role", "created_at", "revoked_at"],
    "properties": {
        "name": {"type": "string"},
        "id": {"type": "string", "description": "the public part of the key"},
        "role": {"enum": list(ROLES)},
        "created_at": {"type": "string", "format": "date-time"},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
_MADE: Schema = {
    **_KEY,
    "required": [*_KEY["required"], "key"],
    "properties": {
        **_KEY["properties"],
        "key": {"type": "string", "description": "prodml_<id>_<secret>, shown this once"},
    },
}


def _keys(request: Request) -> Keys:
    keys = request.app.state.keys
    assert isinstance(keys, Keys), "the guard admits no request to a server without keys"
    return keys


async def create(request: Request, service: Service, call: Call) -> Response:
    data = await read_checked(request, service, "create", _CREATE, '{"name": "ci"}')
    try:
        name = checked_name(data["name"])
    except KeysError as exc:
        raise Rejected(422, str(exc), "name") from None
    try:  # the name and role are checked: what is left to refuse is a name taken
        info, key = await asyncio.to_thread(_keys(request).create, name, data["role"])
    except KeysError as exc:
        raise Rejected(409, str(exc), "name") from None
    logger.warning("key %r (role %s) was created by key %r", info.name, info.role, call.actor)
    return json_response({**info.shown(), "key": key})


async def listed(request: Request, service: Service, call: Call) -> Response:
    found = await asyncio.to_thread(_keys(request).list)
    return json_response([info.shown() for info in found])


async def revoke(request: Request, service: Service, call: Call) -> Response:
    data = await read_checked(request, service, "revoke", _REVOKE, '{"name": "ci"}')
    try:
        info = await asyncio.to_thread(_keys(request).revoke, data["name"])
    except NotFoundError as exc:
        raise Rejected(404, str(exc), "name") from None
    logger.warning("key %r (role %s) was revoked by key %r", info.name, info.role, call.actor)
    return json_response(info.shown())


ROUTES = [
    Route(
        "GET",
        "/admin/keys",
        "native",
        listed,
        "Every API key, revoked ones too: name, id, role, created and revoked (never the key)",
        answers=(200, 401, 403),
        reply={JSON: {"type": "array", "items": _KEY}},
        role="admin",
    ),
    Route(
        "POST",
        "/admin/keys/create",
        "native",
        create,
        "Make an API key of a role; the answer holds the key, shown this once",
        body={JSON: Body(_CREATE, lambda record: {"name": "ci-deployer", "role": "operator"})},
        answers=(200, 400, 401, 403, 409, 413, 422),
        reply={JSON: _MADE},
        role="admin",
    ),
    Route(
        "POST",
        "/admin/keys/revoke",
        "native",
        revoke,
        "Revoke an API key by name: every server refuses it within seconds",
        body={JSON: Body(_REVOKE, lambda record: {"name": "ci-deployer"})},
        answers=(200, 400, 401, 403, 404, 413, 422),
        reply={JSON: _KEY},
        role="admin",
    ),
]
