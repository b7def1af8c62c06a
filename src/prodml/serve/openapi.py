"""The OpenAPI 3 document of the server, made from the same route table Starlette serves,
so the two cannot disagree.

>>> from prodml.serve.routes import ROUTES
>>> doc = document(ROUTES, "0.1.0")
>>> doc["openapi"], sorted(doc["paths"]["/v2/models/{name}/infer"])
('3.1.0', ['post'])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from prodml.serve.http import Route

_ANSWERS = {
    200: "The answer",
    400: "Malformed input: the message names what and where",
    404: "Unknown model or version",
    413: "Body over the size limit",
    415: "Content type not read here",
    422: "A record that does not fit the model's input schema",
    500: "The model failed; the cause is in the server's log",
    503: "Not loaded yet, too busy, or the prediction could not be logged: retry",
}
_TAGS = {
    "native": "prodml",
    "mlflow": "MLflow scoring protocol",
    "v2": "Open Inference Protocol V2",
    "health": "server",
}


def document(routes: Sequence[Route], version: str) -> dict[str, Any]:
    """The OpenAPI document of ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "tags": [_TAGS[route.protocol]],
            "operationId": _operation_id(route),
            "responses": {str(code): {"description": _ANSWERS[code]} for code in route.answers},
        }
        parameters = re.findall(r"{(\w+)}", route.path)
        if parameters:
            operation["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in parameters
            ]
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    kind.strip(): {"schema": {"type": "object" if "json" in kind else "string"}}
                    for kind in route.body.split(",")
                },
            }
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
    }


def _operation_id(route: Route) -> str:
    words = re.sub(r"[{}]", "", route.path).strip("/").replace(".", "_").split("/")
    return "_".join([route.method.lower(), *words]) or route.method.lower()
