"""The MLflow scoring protocol, as clients of ``mlflow models serve`` send it, against a
real server: every body form of the specification, CSV, and each mistake a 4xx that
says what is wrong."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

import prodml

if TYPE_CHECKING:
    from tests.serve.conftest import Answer, Http, Launch, Server

ROWS = 5


@pytest.fixture(scope="module")
def frame(bc_features: pd.DataFrame) -> pd.DataFrame:
    return bc_features.iloc[100 : 100 + ROWS]


def invoke(http: Http, server: Server, body: Any) -> Answer:
    return http.post(f"{server.url}/invocations", body)


def expected(model: Any, frame: pd.DataFrame) -> list[Any]:
    return list(model.predict(frame).tolist())


def test_each_json_form_of_the_specification_answers_the_models_labels(
    http: Http, bc_server: Server, bc_model: Any, frame: pd.DataFrame
) -> None:
    columns = list(frame.columns)
    rows = frame.to_numpy().tolist()
    records = http.records(frame)
    bodies = {
        "dataframe_split": {
            "dataframe_split": {"columns": columns, "index": list(range(ROWS)), "data": rows}
        },
        "dataframe_split without index": {"dataframe_split": {"columns": columns, "data": rows}},
        "dataframe_records": {"dataframe_records": records},
        "instances as lists": {"instances": rows},
        "instances as objects": {"instances": records},
        "inputs as lists": {"inputs": rows},
        "inputs as columns": {"inputs": {c: frame[c].tolist() for c in columns}},
        "with params": {"dataframe_records": records, "params": {"threshold": 0.5}},
    }
    for form, body in bodies.items():
        answer = invoke(http, bc_server, body)
        assert answer.status == 200, (form, answer.body)
        assert answer.json() == {"predictions": expected(bc_model, frame)}, form


def test_csv_with_a_header_row_answers_the_models_labels(
    http: Http, bc_server: Server, bc_model: Any, frame: pd.DataFrame
) -> None:
    body = frame.to_csv(index=False).encode()
    for content_type in ("text/csv", "text/csv; charset=utf-8"):
        answer = http.call(f"{bc_server.url}/invocations", "POST", body, content_type)
        assert answer.status == 200, answer.body
        assert answer.json() == {"predictions": expected(bc_model, frame)}


def test_each_row_gets_a_request_id_in_a_header(
    http: Http, bc_server: Server, frame: pd.DataFrame
) -> None:
    answer = invoke(http, bc_server, {"dataframe_records": http.records(frame)})
    ids = answer.headers["x-request-ids"].split(",")
    assert len(ids) == ROWS and len(set(ids)) == ROWS
    assert all(uuid.UUID(i).version == 7 for i in ids)


def test_ping_and_health_answer_200_once_the_model_is_loaded(http: Http, bc_server: Server) -> None:
    for path in ("/ping", "/health"):
        assert http.call(f"{bc_server.url}{path}").status == 200


def bad_request(answer: Answer, status: int = 400) -> str:
    """The message of an MLflow error answer, after checking its shape."""
    assert answer.status == status, answer.body
    body = answer.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == "BAD_REQUEST"
    message: str = body["message"]
    return message


def test_a_body_with_no_form_several_forms_or_a_bare_list_is_a_bad_request(
    http: Http, bc_server: Server, frame: pd.DataFrame
) -> None:
    records = http.records(frame)
    assert "exactly one of dataframe_split" in bad_request(invoke(http, bc_server, {}))
    both = {"dataframe_records": records, "instances": records}
    assert "has keys dataframe_records, instances" in bad_request(invoke(http, bc_server, both))
    assert "expected an object" in bad_request(invoke(http, bc_server, records))
    typo = bad_request(invoke(http, bc_server, {"dataframe_record": records}))
    assert "did you mean 'dataframe_records'?" in typo


def test_rows_that_do_not_fit_the_schema_are_bad_requests_naming_field_and_value(
    http: Http, bc_server: Server, frame: pd.DataFrame
) -> None:
    good = http.records(frame)[0]
    missing = {k: v for k, v in good.items() if k != "mean_area"}
    message = bad_request(invoke(http, bc_server, {"dataframe_records": [missing]}))
    assert message.startswith("row 0 has no field 'mean_area' (number)")
    text = {**good, "mean_area": "large"}
    message = bad_request(invoke(http, bc_server, {"dataframe_records": [good, text]}))
    assert message == (
        "row 1, field 'mean_area': 'large' is text; expected a number "
        "(the column was float64 in training)"
    )
    nan = {**good, "mean_area": float("nan")}  # json.dumps writes NaN, as MLflow clients do
    message = bad_request(invoke(http, bc_server, {"dataframe_records": [nan]}))
    assert message.startswith("row 0, field 'mean_area': NaN is missing, but the column had")
    short = {"instances": [list(good.values())[:3]]}
    assert "row 0 is 3 values; expected a list of 30 values" in bad_request(
        invoke(http, bc_server, short)
    )


def test_every_bad_field_is_named_in_each_json_form(
    http: Http, bc_server: Server, frame: pd.DataFrame
) -> None:
    good = http.records(frame)[0]
    bad = {**good, "mean_area": "large", "mean_radius": None}
    columns = {k: [v, bad[k]] for k, v in good.items() if k != "worst_area"}
    for body in (
        {"dataframe_records": [good, bad]},
        {"instances": [list(good.values()), list(bad.values())]},
        {
            "dataframe_split": {
                "columns": list(bad),
                "data": [list(good.values()), list(bad.values())],
            }
        },
    ):
        message = bad_request(invoke(http, bc_server, body))
        assert message.startswith("2 fields do not fit the model's input: (1) row 1, field "), body
        assert "field 'mean_radius'" in message and "field 'mean_area'" in message
    message = bad_request(invoke(http, bc_server, {"inputs": columns}))
    assert message.startswith("3 fields do not fit the model's input: (1) row 1, field ")
    assert "(3) row 0 has no field 'worst_area' (number)" in message


def test_a_header_or_params_choose_the_endpoint(
    http: Http, launch: Launch, registered_project: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(registered_project, tmp_path / "bc"))
    with prodml.Project(folder) as project:  # a second endpoint, always answering benign
        constant = {"strategy": "constant", "constant": "benign"}
        run = project.fit(
            prodml.ModelSpec(factory="sklearn.dummy.DummyClassifier", params=constant)
        )
        project.evaluate(run.id)
        project.register(run.id, "zeta")  # after breast-cancer, which stays the first
    server = launch(folder)
    url, records = f"{server.url}/invocations", http.records(frame)
    body = json.dumps({"dataframe_records": records}).encode()

    first = invoke(http, server, {"dataframe_records": records}).json()["predictions"]
    named = {"dataframe_records": records, "params": {"endpoint": "zeta", "other": 1}}
    by_params = invoke(http, server, named).json()["predictions"]
    by_header = http.call(url, "POST", body, headers={"X-Prodml-Endpoint": "zeta"}).json()

    assert "malignant" in first and by_params == by_header["predictions"] == ["benign"] * ROWS
    both = http.call(url, "POST", json.dumps(named).encode(), headers={"X-Prodml-Endpoint": "x"})
    assert bad_request(both) == (
        "the header X-Prodml-Endpoint names 'x' but \"params.endpoint\" 'zeta'; name the "
        "endpoint once, or twice alike"
    )
    unknown = http.call(url, "POST", body, headers={"X-Prodml-Endpoint": "nowhere"})
    assert unknown.status == 404 and "models are: breast-cancer, zeta" in unknown.json()["message"]


def test_malformed_json_and_csv_are_bad_requests(http: Http, bc_server: Server) -> None:
    url = f"{bc_server.url}/invocations"
    assert "not valid JSON" in bad_request(http.call(url, "POST", b'{"dataframe_records": ['))
    csv = b"mean_radius,mean_texture\n1.0\n"
    assert "CSV row 0 has 1 cells but the header names 2" in bad_request(
        http.call(url, "POST", csv, "text/csv")
    )


def test_other_content_types_and_charsets_get_415(http: Http, bc_server: Server) -> None:
    url = f"{bc_server.url}/invocations"
    body = json.dumps({"instances": []}).encode()
    for content_type, says in [
        ("text/plain", "Content-Type text/plain is not read here"),
        ("application/json; charset=latin-1", "charset latin-1 is not supported"),
        ("application/json; format=pandas-split", "the Content-Type parameter format is not"),
        (None, "no Content-Type is not read here"),
    ]:
        answer = http.call(url, "POST", body, content_type)
        assert bad_request(answer, 415).startswith(says), content_type


def test_a_body_over_the_limit_gets_413_by_length_or_while_read(
    http: Http, bc_server: Server
) -> None:
    url = f"{bc_server.url}/invocations"
    big = b'{"instances": [' + b"1," * (1 << 19) + b"1]}"
    assert "over the limit of 1048576 bytes" in bad_request(http.call(url, "POST", big), 413)
    chunked = http.call(url, "POST", iter([big[:4096], big[4096:]]))
    assert "over the limit" in bad_request(chunked, 413)
    assert http.call(url, "POST", b'{"instances": []}').json() == {"predictions": []}
