"""What every protocol's handlers share: the route table entry, reading a body within its
limit, JSON in and out, and the media type of a request.

A handler is ``async (request, service, call) -> Response``: it raises
:class:`~prodml.serve.rejection.Rejected` for a client's mistake and fills ``call`` with the
endpoint and version it served, which the app's wrapper turns into metrics
(:mod:`prodml.serve.routes`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response

from prodml.serve.rejection import Rejected

if TYPE_CHECKING:
    from prodml.deploy.keys import Role
    from prodml.serve.predictor import Predictor
    from prodml.serve.service import Service

Wire = Literal["native", "mlflow", "v2", "health"]  # the protocol a route speaks
JSON = "application/json"


@dataclass(slots=True)
class Call:
    """What a handler found out about its request, for the metrics and the headers that
    say which version answered (``X-Prodml-Model``) in which role (``X-Prodml-Role``)."""

    started: float = field(default_factory=time.perf_counter)
    endpoint: str = ""
    version: str = ""
    model: str = ""
    role: str = ""
    actor: str = ""  # the name of the key the request came with, once checked

    def answered_by(self, predictor: Predictor) -> None:
        """Note the predictor routing chose for this request."""
        served = predictor.served
        self.endpoint, self.version, self.model = (
            served.endpoint,
            str(served.version),
            served.model_id,
        )
        self.role = predictor.role


Handler = Callable[[Request, "Service", Call], Awaitable[Response]]
ErrorBody = Callable[[Rejected], Response]


Schema = dict[str, Any]  # a JSON Schema, as OpenAPI 3.1 takes it
#: a JSON Schema of anything an object holds, the answer of most routes
OBJECT: Schema = {"type": "object"}
#: the OpenAPI reference to one input record of the served model (see prodml.serve.openapi)
RECORD: Schema = {"$ref": "#/components/schemas/Record"}


@dataclass(frozen=True)
class Body:
    """A body in one media type, as the OpenAPI document shows it: its JSON Schema and
    an example the served model answers, made from one of its typical records (field:
    value, in the schema's order)."""

    schema: Schema
    example: Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Route:
    """One route: what Starlette serves, who may call it, and what the OpenAPI document
    says of it.

    ``role`` is the least role of the key a request needs (``Authorization: Bearer KEY``,
    :mod:`prodml.deploy.keys`); None, the default, lets anyone call it: health, metadata and
    predictions. A route with a role needs a key even while the store holds none (so
    nobody may call it then), unless ``until_keys``: then anyone may until the first key
    is made, revoked or not (feedback). ``opened_by`` names a serve option that opens it
    to anyone.
    """

    method: Literal["GET", "POST"]
    path: str
    protocol: Wire
    handler: Handler
    summary: str
    body: dict[str, Body] | None = None  # the request body, by media type
    answers: tuple[int, ...] = (200,)
    predicts: bool = False  # its errors count in the monitor's error rate
    reply: dict[str, Schema] = field(default_factory=lambda: {JSON: OBJECT})  # the 200 body
    role: Role | None = None
    until_keys: bool = False
    opened_by: Literal["open_feedback"] | None = None

    @property
    def admin(self) -> bool:
        """An admin route (``/admin/``: deployment changes and keys), served unless
        ``serve.admin`` is false."""
        return self.path.startswith("/admin/")


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(payload), status, headers, JSON)


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body; 413 when it is over ``limit`` bytes, by its Content-Length or
    (chunked) as it is read."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _too_large(int(length), limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit, so_far=True)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body``; 400 naming the place where it is malformed.

    NaN and Infinity, which Python's ``json.dumps`` writes and strict JSON has no words
    for, are read as numbers (and then refused where a column takes no missing values).
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as strict:
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise Rejected(400, f"the body is not valid JSON: {strict}") from None


def media_type(request: Request) -> tuple[str | None, dict[str, str]]:
    """The request's Content-Type, lower case, and its parameters (``charset``...)."""
    header = request.headers.get("content-type")
    if header is None:
        return None, {}
    kind, *rest = header.split(";")
    parameters = {}
    for part in rest:
        key, _, value = part.partition("=")
        parameters[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), parameters


def require_object(value: Any, what: str, example: str) -> dict[str, Any]:
    """``value`` if it is a JSON object; else 400 saying what ``what`` should look like."""
    if type(value) is not dict:
        raise Rejected(400, f"{what} is {_kind(value)}; expected an object such as {example}")
    return value


def require_list(value: Any, what: str) -> list[Any]:
    if type(value) is not list:
        raise Rejected(400, f"{what} is {_kind(value)}; expected a list")
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def _too_large(size: int, limit: int, so_far: bool = False) -> Rejected:
    seen = f"over {size}" if so_far else f"{size}"
    return Rejected(
        413,
        f"the body is {seen} bytes, over the limit of {limit} bytes; send fewer rows a "
        "request (or raise the server's max_body)",
    )
