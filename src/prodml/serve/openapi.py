"""The OpenAPI 3.1 document of the server, made from the same route table Starlette serves,
so the two cannot disagree: every route's request body and answers as JSON Schema, and,
once a model is loaded, the fields of its input records (names, types, the categories
seen in training) with an example body a route answers with 200. :func:`page` is the
document's page at ``/docs``, to read it and try each route in a browser.

>>> from prodml.serve.routes import ROUTES
>>> doc = document(ROUTES, "0.1.0")
>>> doc["openapi"], sorted(doc["paths"]["/v2/models/{name}/infer"])
('3.1.0', ['post'])
>>> doc["components"]["schemas"]["Record"]["type"]
'object'
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Sequence
from importlib import resources
from typing import Any

from prodml.data.schema import ColumnSchema, Schema
from prodml.serve.http import JSON, Route, Wire
from prodml.serve.predictor import probe_rows
from prodml.serve.source import Served

_ANSWERS = {
    200: "The answer",
    400: "Malformed input: the message names what and where",
    401: "No usable API key: send Authorization: Bearer KEY (prodml keys create)",
    403: "The key's role is below what the route needs",
    404: "Unknown model, version or endpoint",
    409: "A deployment change the endpoint's state (or the audit gate) does not allow now",
    413: "Body over the size limit",
    415: "Content type not read here",
    422: "A record that does not fit the model's input schema, or a value not allowed",
    500: "The model failed; the cause is in the server's log",
    503: "Not loaded yet, too busy, or the prediction could not be logged: retry",
}
_MESSAGE = {"type": "string", "description": "what is wrong, which value, how to fix it"}
_ERROR_BODIES: dict[Wire, dict[str, Any]] = {
    "native": {
        "type": "object",
        "required": ["error", "field"],
        "properties": {"error": _MESSAGE, "field": {"type": ["string", "null"]}},
    },
    "mlflow": {
        "type": "object",
        "required": ["error_code", "message"],
        "properties": {"error_code": {"type": "string"}, "message": _MESSAGE},
    },
    "v2": {"type": "object", "required": ["error"], "properties": {"error": _MESSAGE}},
    "health": {"type": "object", "required": ["error"], "properties": {"error": _MESSAGE}},
}
_SECURITY = {
    "key": {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key, prodml_<id>_<secret>: prodml keys create NAME --role ROLE",
    }
}
_JSON_TYPES = {
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "category": "string",
    "text": "string",
    "datetime": "string",
}
_TAGS = {
    "native": "prodml",
    "mlflow": "MLflow scoring protocol",
    "v2": "Open Inference Protocol V2",
    "health": "server",
}


def document(routes: Sequence[Route], version: str, served: Served | None = None) -> dict[str, Any]:
    """The OpenAPI document of ``routes``; with ``served``, its input fields and examples."""
    example = None
    if served is not None:
        names = [c.name for c in served.schema.columns]
        example = dict(zip(names, probe_rows(served.schema)[1], strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "tags": [_TAGS[route.protocol]],
            "operationId": _operation_id(route),
            "responses": {str(code): _answer(route, code) for code in _codes(route)},
        }
        if route.role is not None:
            # an empty requirement: anyone, until the store holds a key
            operation["security"] = [{}, {"key": []}] if route.until_keys else [{"key": []}]
        parameters = re.findall(r"{(\w+)}", route.path)
        if parameters:
            operation["parameters"] = [_parameter(p, served) for p in parameters]
        if route.body is not None:
            content: dict[str, Any] = {}
            for kind, body in route.body.items():
                content[kind] = {"schema": body.schema}
                if example is not None:
                    content[kind]["example"] = body.example(example)
            operation["requestBody"] = {"required": True, "content": content}
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "prodml model server",
            "version": version,
            "description": "Predictions over prodml's own API, the MLflow scoring protocol "
            "and the Open Inference Protocol (V2).",
        },
        "tags": [{"name": tag} for tag in _TAGS.values()],
        "paths": paths,
        "components": {"schemas": {"Record": _record(served)}, "securitySchemes": _SECURITY},
    }


def _codes(route: Route) -> list[int]:
    return sorted({*route.answers, 401, 403} if route.role is not None else route.answers)


def _answer(route: Route, code: int) -> dict[str, Any]:
    schemas = route.reply if code == 200 else {JSON: _ERROR_BODIES[route.protocol]}
    content = {kind: {"schema": schema} for kind, schema in schemas.items()}
    return {"description": _ANSWERS[code], "content": content}


def _parameter(name: str, served: Served | None) -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    if served is not None:
        parameter["example"] = served.endpoint if name == "name" else str(served.version)
    return parameter


def _record(served: Served | None) -> dict[str, Any]:
    """One input record: field: value, every field of the model's input schema, and the
    optional metadata fields logged beside them."""
    if served is None:
        return {"type": "object", "description": "field: value, the model's input fields"}
    schema: Schema = served.schema
    properties = {c.name: _field(c) for c in schema.columns}
    for name in served.metadata:
        properties.setdefault(name, _METADATA)
    return {
        "type": "object",
        "description": f"an input record of {served.model_id} (other fields are ignored)",
        "required": [c.name for c in schema.columns],
        "properties": properties,
    }


#: A data.metadata field of a record (see prodml.serve.metadata).
_METADATA: dict[str, Any] = {
    "type": ["string", "number", "boolean", "null"],
    "description": "data.metadata: logged with the row for slicing, never given to the model",
}


def _field(column: ColumnSchema) -> dict[str, Any]:
    kind = _JSON_TYPES[column.kind]
    field: dict[str, Any] = {"type": [kind, "null"] if column.nullable else kind}
    if column.kind == "category" and column.categories is not None:
        field["enum"] = [*sorted(column.categories), *([None] if column.nullable else [])]
    if column.kind == "datetime":
        field["format"] = "date-time"
    return field


def _operation_id(route: Route) -> str:
    words = re.sub(r"[{}]", "", route.path).strip("/").replace(".", "_").split("/")
    return "_".join([route.method.lower(), *words]) or route.method.lower()


@functools.cache
def page() -> tuple[bytes, str]:
    """The ``/docs`` page and the Content-Security-Policy it is sent with.

    The page is ``docs.html`` with ``docs.css`` and ``docs.js`` (in
    :mod:`prodml.serve.protocols`) written into it: one file, nothing from elsewhere. The
    policy lets only that style and that script run (by their SHA-256) and the page talk
    only to this server, so neither a CDN nor any other origin is ever reached.

    >>> html, policy = page()
    >>> html.startswith(b"<!doctype html>"), "connect-src 'self'" in policy
    (True, True)
    """
    files = resources.files("prodml.serve.protocols")
    style, script = (files / "docs.css").read_text(), (files / "docs.js").read_text()
    html = (files / "docs.html").read_text()
    html = html.replace("/*STYLE*/", style).replace("/*SCRIPT*/", script)
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src '{_digest(script)}'",
            f"style-src '{_digest(style)}'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return html.encode(), policy


def _digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
