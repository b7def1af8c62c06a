"""prodml's own ``/predict`` against real servers: answers with probabilities, the model and
a request id a record, and a 4xx naming the field for every client mistake, never a 500."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

if TYPE_CHECKING:
    from tests.serve.conftest import Answer, Http, Launch, Server


def predict(http: Http, server: Server, records: Any, **extra: Any) -> Answer:
    return http.post(f"{server.url}/predict", {"records": records, **extra})


def refused(answer: Answer, status: int) -> tuple[str, str | None]:
    """Message and field of a native error answer, after checking its status and shape."""
    assert answer.status == status, answer.body
    body = answer.json()
    assert set(body) == {"error", "field"}
    return body["error"], body["field"]


def test_each_record_gets_label_probabilities_model_and_request_id(
    http: Http, loans_server: Server, loans_model: Any, loans_features: pd.DataFrame
) -> None:
    frame = loans_features.iloc[:20]
    answer = predict(http, loans_server, http.records(frame), endpoint="loans")
    assert answer.status == 200, answer.body
    predictions = answer.json()["predictions"]
    expected = loans_model.predict_proba(frame)
    assert [p["label"] for p in predictions] == loans_model.predict(frame).tolist()
    got = np.array([[p["probabilities"]["0"], p["probabilities"]["1"]] for p in predictions])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert {p["model"] for p in predictions} == {"loans:0"}
    ids = [uuid.UUID(p["request_id"]) for p in predictions]
    assert len(set(ids)) == 20 and {i.version for i in ids} == {7}


def test_missing_values_pass_where_training_had_them(
    http: Http, loans_server: Server, loans_model: Any, loans_features: pd.DataFrame
) -> None:
    frame = loans_features.iloc[:2].copy()
    frame["employment_years"] = np.nan
    records = http.records(frame)  # null in JSON
    records[1]["employment_years"] = float("nan")  # NaN, as Python's json writes it
    answer = predict(http, loans_server, records)
    assert answer.status == 200, answer.body
    labels = [p["label"] for p in answer.json()["predictions"]]
    assert labels == loans_model.predict(frame).tolist()


def test_every_schema_mistake_is_a_422_naming_row_field_value_and_what_is_allowed(
    http: Http, loans_server: Server, loans_features: pd.DataFrame
) -> None:
    good = http.records(loans_features.iloc[:1])[0]
    cases = [
        (
            {k: v for k, v in good.items() if k != "income"},
            "income",
            "row 0 has no field 'income' (number); the model needs each of age, income,",
        ),
        (
            {**good, "age": "forty"},
            "age",
            "row 0, field 'age': 'forty' is text; expected a whole number (the column was "
            "int64 in training)",
        ),
        (
            {**good, "age": 40.5},
            "age",
            "row 0, field 'age': 40.5 is a fraction; expected a whole number",
        ),
        (
            {**good, "income": None},
            "income",
            "row 0, field 'income': null is missing, but the column had no missing values in "
            "training",
        ),
        (
            {**good, "home_ownership": "castle"},
            "home_ownership",
            "row 0, field 'home_ownership': 'castle' was never seen in training; known values "
            "are: mortgage, own, rent",
        ),
        (
            {**good, "purpose": "educaton"},
            "purpose",
            "did you mean 'education'?",
        ),
        ({**good, "credit_score": True}, "credit_score", "true is true/false; expected"),
    ]
    for record, field, says in cases:
        message, named = refused(predict(http, loans_server, [record]), 422)
        assert named == field
        assert says in message, message


def test_a_422_names_every_bad_field_of_every_row(
    http: Http, loans_server: Server, loans_features: pd.DataFrame
) -> None:
    good = http.records(loans_features.iloc[:3])
    records = [{**good[0], "purpose": "yacht"}, good[1], {**good[2], "age": "old", "income": None}]

    message, field = refused(predict(http, loans_server, records), 422)

    assert field == "purpose"
    assert message.startswith(
        "3 fields do not fit the model's input: (1) row 0, field 'purpose': 'yacht' was "
        "never seen in training; known values are: "
    )
    assert message.endswith(
        "; (2) row 2, field 'age': 'old' is text; (3) row 2, field 'income': null is missing"
    )


def test_with_serve_unseen_predict_an_unseen_category_is_answered(
    http: Http,
    launch: Launch,
    loans_project: Path,
    loans_model: Any,
    loans_features: pd.DataFrame,
    tmp_path: Path,
) -> None:
    folder = Path(shutil.copytree(loans_project, tmp_path / "loans"))
    with open(folder / "prodml.yaml", "a", encoding="utf-8") as file:
        file.write("serve:\n  unseen: predict\n")
    server = launch(folder)
    row = loans_features.iloc[:1].copy()
    record = {**http.records(row)[0], "purpose": "yacht"}

    answer = predict(http, server, [record])

    assert answer.status == 200, answer.body
    (prediction,) = answer.json()["predictions"]
    # a category the model never saw reaches it as a missing one
    row["purpose"] = pd.Series([np.nan], index=row.index, dtype=row["purpose"].dtype)
    expected = loans_model.predict_proba(row)[0]
    assert [prediction["probabilities"][c] for c in ("0", "1")] == pytest.approx(expected)


def test_serve_batch_bounds_the_rows_a_server_queues(
    http: Http, launch: Launch, loans_project: Path, loans_features: pd.DataFrame, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(loans_project, tmp_path / "loans"))
    with open(folder / "prodml.yaml", "a", encoding="utf-8") as file:
        file.write("serve:\n  batch: {max_rows: 2, max_wait_ms: 1, queue_rows: 3}\n")
    server = launch(folder)
    records = http.records(loans_features.iloc[:4])

    assert predict(http, server, records[:3]).status == 200
    message, _ = refused(predict(http, server, records), 413)
    assert (
        message == "a request of 4 rows is over the limit of 3 rows; split it into smaller requests"
    )


def test_a_value_out_of_the_training_range_is_answered_and_counted(
    http: Http, loans_server: Server, loans_features: pd.DataFrame
) -> None:
    good = http.records(loans_features.iloc[:1])[0]
    answer = predict(http, loans_server, [{**good, "income": 1e9}])
    assert answer.status == 200, answer.body
    metrics = http.call(f"{loans_server.url}/metrics").body.decode()
    assert 'prodml_out_of_range_values_total{column="income",endpoint="loans"}' in metrics


def test_malformed_bodies_are_400_and_unknown_models_404(
    http: Http, loans_server: Server, loans_features: pd.DataFrame
) -> None:
    url = f"{loans_server.url}/predict"
    message, _ = refused(http.call(url, "POST", b"{'records': []}"), 400)
    assert message.startswith("the body is not valid JSON")
    message, field = refused(http.post(url, {"rows": []}), 400)
    assert message == "unknown key 'rows' in the body; keys are: records, endpoint"
    message, field = refused(http.post(url, {"records": {"a": 1}}), 400)
    assert message == '"records" is an object; expected a list'
    message, field = refused(predict(http, loans_server, [], endpoint="loan"), 404)
    assert (message, field) == ("model 'loan' is not served here; models are: loans", "model")
    message, _ = refused(http.post(url, {"records": [[1, 2]]}), 422)
    assert message.startswith("row 0 is a list; expected an object of field: value")


def test_a_wrong_method_is_405_and_an_unknown_path_404(http: Http, loans_server: Server) -> None:
    message, _ = refused(http.call(f"{loans_server.url}/predict"), 405)
    assert message == "/predict does not take GET; it takes POST"
    message, _ = refused(http.call(f"{loans_server.url}/predicts", "POST", b"{}"), 404)
    assert "the routes are listed at /openapi.json" in message


def test_health_says_live_and_ready_with_the_model_served(http: Http, loans_server: Server) -> None:
    assert http.call(f"{loans_server.url}/health/live").json() == {"status": "live"}
    ready = http.call(f"{loans_server.url}/health/ready")
    assert ready.status == 200
    assert ready.json() == {"status": "ready", "endpoints": {"loans": "loans:0"}}
