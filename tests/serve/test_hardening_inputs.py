"""Inputs that used to crash the server or stall it: each is now a short 4xx that names
what is wrong, found quickly."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

from prodml.data.schema import infer_schema
from prodml.serve.rejection import Rejected
from prodml.serve.validation import RowChecker

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Server

MEGABYTE = 1 << 20


def deep(depth: int, leaf: bytes = b"1.0") -> bytes:
    """A JSON value nested ``depth`` lists deep (the json module refuses 1000 levels)."""
    return b"[" * depth + leaf + b"]" * depth


def with_deep(template: Any, value: bytes) -> bytes:
    """``template`` as JSON, its string "DEEP" replaced by the JSON ``value``."""
    return json.dumps(template).encode().replace(b'"DEEP"', value)


def v2_body(name: str, **tensor: Any) -> dict[str, Any]:
    return {"inputs": [{"name": name, "shape": [1, 30], "datatype": "FP64", **tensor}]}


@pytest.mark.parametrize("datatype", [["FP64"], {"FP64": 1}])
def test_a_v2_datatype_that_is_not_text_is_a_400_naming_tensor_value_and_choices(
    http: Http, bc_server: Server, datatype: Any
) -> None:
    body = v2_body("input", datatype=datatype, data=[0.0] * 30)
    answer = http.post(f"{bc_server.url}/v2/models/breast-cancer/infer", body)
    assert answer.status == 400, answer.body
    message = answer.json()["error"]
    assert "input 'input'" in message and json.dumps(datatype, separators=(",", ":")) in message
    assert "BYTES" in message and "FP64" in message


@pytest.mark.parametrize("depth", [900, 1000])
def test_v2_data_nested_deeply_is_a_400(http: Http, bc_server: Server, depth: int) -> None:
    body = with_deep(v2_body("input", data="DEEP"), deep(depth))
    answer = http.call(f"{bc_server.url}/v2/models/breast-cancer/infer", "POST", body)
    assert answer.status == 400, answer.body
    assert "nested" in answer.json()["error"]


@pytest.mark.parametrize(
    "path",
    ["/predict", "/invocations", "/feedback", "/v2/models/breast-cancer/infer"],
)
def test_a_deeply_nested_value_anywhere_in_a_body_is_a_4xx(
    http: Http, bc_server: Server, path: str
) -> None:
    bodies = [
        {"records": [{"mean_radius": "DEEP"}]},
        {"records": [{"mean_radius": 1}], "endpoint": "DEEP"},
        {"records": "DEEP"},
        {"dataframe_records": [{"mean_radius": "DEEP"}]},
        {"dataframe_split": {"columns": "DEEP", "data": "DEEP"}},
        {"dataframe_split": {"columns": ["mean_radius"], "data": [["DEEP"]]}},
        {"instances": "DEEP"},
        {"inputs": [{"name": "DEEP", "shape": "DEEP", "datatype": "FP64", "data": [1.0]}]},
        {"inputs": [{"name": "input", "shape": [1], "datatype": "DEEP", "data": [1.0]}]},
        {"inputs": {"mean_radius": "DEEP"}},
        {"request_id": "DEEP", "label": "DEEP"},
        {"feedback": [{"request_id": "x", "label": "DEEP"}]},
        {"id": "a", "inputs": [], "outputs": [{"name": "DEEP"}]},
        "DEEP",
    ]
    for depth in (200, 1000):
        for leaf in (b"1.0", b'{"x": NaN}'):
            for body in bodies:
                sent = with_deep(body, deep(depth, leaf))
                answer = http.call(f"{bc_server.url}{path}", "POST", sent)
                assert 400 <= answer.status < 500, (path, sent[:80], answer.body[:300])
                assert len(answer.body) < 2000


@pytest.mark.parametrize("columns", [[0, 1], [None, None], [["a"], ["b"]], [{"a": 1}, {}]])
def test_mlflow_split_columns_that_are_not_text_are_a_400(
    http: Http, bc_server: Server, columns: list[Any]
) -> None:
    body = {"dataframe_split": {"columns": columns, "data": [[1.0, 2.0]]}}
    answer = http.post(f"{bc_server.url}/invocations", body)
    assert answer.status == 400, answer.body
    assert answer.json()["error_code"] == "BAD_REQUEST"
    assert "dataframe_split.columns[0]" in answer.json()["message"]


def test_a_csv_body_of_only_a_header_is_a_400_that_says_so(
    http: Http, bc_server: Server, bc_features: pd.DataFrame
) -> None:
    header = ",".join(bc_features.columns).encode() + b"\n"
    answer = http.call(f"{bc_server.url}/invocations", "POST", header, "text/csv")
    assert answer.status == 400, answer.body
    assert "header and no rows" in answer.json()["message"]
    native = http.call(f"{bc_server.url}/predict", "POST", header, "text/csv")
    assert native.status == 415  # the native API reads JSON only


def test_a_megabyte_category_is_refused_within_milliseconds_in_a_short_message() -> None:
    train = pd.DataFrame({"region": pd.Categorical(["north", "south", "east", "west"] * 5)})
    checker = RowChecker(infer_schema(train))
    value = "a" * MEGABYTE
    checker.record({"region": "north"}, 0)  # warm
    started = time.process_time()
    with pytest.raises(Rejected) as raised:
        checker.record({"region": value}, 0)
    spent = time.process_time() - started
    assert spent < 0.005, spent
    message = raised.value.message
    assert len(message) < 300, message
    assert "(1,048,576 characters)" in message and "did you mean" not in message
    with pytest.raises(Rejected, match="did you mean 'north'"):
        checker.record({"region": "nort"}, 0)  # short values still get a suggestion


def test_a_megabyte_key_or_name_is_echoed_shortened(http: Http, bc_server: Server) -> None:
    huge = "k" * (MEGABYTE - 1000)  # within the body limit
    cases = [
        ("/predict", {huge: 1}),
        ("/invocations", {huge: 1}),
        ("/feedback", {huge: 1}),
        (
            "/v2/models/breast-cancer/infer",
            {"inputs": [{"name": huge, "shape": [1], "datatype": "FP64", "data": [1.0]}]},
        ),
        ("/v2/models/breast-cancer/infer", v2_body("input", datatype=huge, data=[1.0])),
    ]
    for path, body in cases:
        answer = http.post(f"{bc_server.url}{path}", body)
        assert answer.status == 400, (path, answer.body[:300])
        assert len(answer.body) < 600, (path, answer.body[:600])
