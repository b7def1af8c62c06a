"""``/openapi.json`` says what every route takes and answers: request bodies, the served
model's input fields, and examples that the server answers with 200."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from prodml.serve.routes import ROUTES

if TYPE_CHECKING:
    import pandas as pd
    from tests.serve.conftest import Http, Server

SERVERS = ["bc_server", "loans_server"]


def served_document(http: Http, server: Server) -> dict[str, Any]:
    answer = http.call(f"{server.url}/openapi.json")
    assert answer.status == 200
    document: dict[str, Any] = answer.json()
    return document


@pytest.mark.parametrize("name", SERVERS)
def test_the_document_is_valid_openapi(
    http: Http, name: str, request: pytest.FixtureRequest
) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(served_document(http, request.getfixturevalue(name)))


@pytest.mark.parametrize("name", SERVERS)
def test_every_route_has_its_body_and_answer_schemas(
    http: Http, name: str, request: pytest.FixtureRequest
) -> None:
    document = served_document(http, request.getfixturevalue(name))
    for route in ROUTES:
        operation = document["paths"][route.path][route.method.lower()]
        for code, answer in operation["responses"].items():
            assert answer["content"], (route.path, code)
            for media in answer["content"].values():
                assert "schema" in media, (route.path, code)
            if code != "200":
                error = answer["content"]["application/json"]["schema"]
                assert error["type"] == "object" and error["required"], (route.path, code)
        if route.method == "POST":
            content = operation["requestBody"]["content"]
            assert content, route.path
            for media in content.values():
                assert media["schema"] and "example" in media, route.path
        else:
            assert "requestBody" not in operation


def test_the_record_lists_the_models_fields_types_and_categories(
    http: Http, loans_server: Server, loans_features: pd.DataFrame
) -> None:
    record = served_document(http, loans_server)["components"]["schemas"]["Record"]
    features = list(loans_features.columns)
    # then the data.metadata fields, optional: logged beside the inputs, any one JSON value
    assert list(record["properties"]) == [*features, "gender", "region"]
    assert record["required"] == features
    for name in ("gender", "region"):
        assert record["properties"].pop(name)["type"] == ["string", "number", "boolean", "null"]
    for name, field in record["properties"].items():
        values = loans_features[name]
        if hasattr(values, "cat"):
            categories = sorted(values.cat.categories)
            assert field["enum"] == categories + ([None] if values.isna().any() else [])
        elif values.dtype.kind == "i":
            assert field["type"] == "integer"
        else:
            assert field["type"] in ("number", ["number", "null"])
    assert any(f["type"] == ["number", "null"] for f in record["properties"].values())
    native = document_body(http, loans_server, "/predict")
    assert native["properties"]["records"]["items"] == {"$ref": "#/components/schemas/Record"}


def document_body(http: Http, server: Server, path: str) -> dict[str, Any]:
    operation = served_document(http, server)["paths"][path]["post"]
    schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
    return schema


@pytest.mark.parametrize("name", SERVERS)
def test_a_request_made_from_the_document_alone_answers_200_on_every_route(
    http: Http, name: str, request: pytest.FixtureRequest
) -> None:
    server: Server = request.getfixturevalue(name)
    document = served_document(http, server)
    request_id = None
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    operations.sort(key=lambda o: o[0] == "/feedback")  # feedback needs an answer's id
    for path, method, operation in operations:
        url = server.url + path
        for parameter in operation.get("parameters", []):
            url = url.replace(f"{{{parameter['name']}}}", str(parameter["example"]))
        if operation.get("security") and path != "/feedback":  # the document asks for a key
            assert http.call(url, method.upper()).status == 401, path
            continue
        if method == "get":
            answer = http.call(url)
            assert answer.status == 200, (path, answer.body[:300])
            continue
        for media, content in operation["requestBody"]["content"].items():
            example = content["example"]
            if path == "/feedback":
                assert request_id is not None
                example = json.loads(
                    json.dumps(example).replace("the request_id of an answer", request_id)
                )
            body = example.encode() if isinstance(example, str) else json.dumps(example).encode()
            answer = http.call(url, "POST", body, media)
            assert answer.status == 200, (path, media, answer.body[:300])
            if path == "/predict":
                request_id = answer.json()["predictions"][0]["request_id"]
