"""The Open Inference Protocol (V2), driven by Triton's own client (``tritonclient.http``)
against real servers, plus the error answers of the specification."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Server

ROWS = 7


@pytest.fixture
def bc(bc_server: Server) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(bc_server.address)
    yield client
    client.close()


@pytest.fixture
def loans(loans_server: Server) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(loans_server.address)
    yield client
    client.close()


def column_inputs(frame: pd.DataFrame) -> list[triton.InferInput]:
    """One tensor a column: FP64 for numbers, INT64 for integers, BYTES for categories."""
    inputs = []
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            array, datatype = values.astype(str).to_numpy(dtype=object), "BYTES"
        elif pd.api.types.is_integer_dtype(values.dtype):
            array, datatype = values.to_numpy(dtype=np.int64), "INT64"
        else:
            array, datatype = values.to_numpy(dtype=np.float64), "FP64"
        tensor = triton.InferInput(name, [len(frame)], datatype)
        tensor.set_data_from_numpy(array, binary_data=False)
        inputs.append(tensor)
    return inputs


def json_outputs(*names: str) -> list[triton.InferRequestedOutput]:
    return [triton.InferRequestedOutput(name, binary_data=False) for name in names]


def test_health_server_and_model_metadata(
    bc: triton.InferenceServerClient, bc_features: pd.DataFrame
) -> None:
    assert bc.is_server_live() and bc.is_server_ready()
    assert bc.is_model_ready("breast-cancer") and bc.is_model_ready("breast-cancer", "0")
    assert not bc.is_model_ready("breast-cancer", "7")
    assert bc.get_server_metadata()["name"] == "prodml"
    metadata = bc.get_model_metadata("breast-cancer")
    assert metadata["versions"] == ["0"] and metadata["platform"] == "sklearn"
    assert [i["name"] for i in metadata["inputs"]] == list(bc_features.columns)
    assert {i["datatype"] for i in metadata["inputs"]} == {"FP64"}
    assert metadata["outputs"] == [
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
        {"name": "probability", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert bc.get_model_metadata("breast-cancer", "0") == metadata


def test_one_tensor_a_column_answers_the_models_probabilities(
    bc: triton.InferenceServerClient, bc_model: Any, bc_features: pd.DataFrame
) -> None:
    frame = bc_features.iloc[:ROWS]
    result = bc.infer(
        "breast-cancer",
        column_inputs(frame),
        request_id="42",
        outputs=json_outputs("label", "probability"),
    )
    np.testing.assert_allclose(result.as_numpy("probability"), bc_model.predict_proba(frame))
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")]
    assert labels == bc_model.predict(frame).tolist()
    response = result.get_response()
    assert response["id"] == "42" and response["model_version"] == "0"
    ids = response["parameters"]["request_ids"].split(",")  # the server's, unique
    assert len(set(ids)) == ROWS and all(uuid.UUID(i).version == 7 for i in ids)


def test_one_2d_tensor_in_training_order_answers_the_same(
    bc: triton.InferenceServerClient, bc_model: Any, bc_features: pd.DataFrame
) -> None:
    frame = bc_features.iloc[ROWS : 2 * ROWS]
    tensor = triton.InferInput("input", [ROWS, frame.shape[1]], "FP64")
    tensor.set_data_from_numpy(frame.to_numpy(dtype=np.float64), binary_data=False)
    result = bc.infer("breast-cancer", [tensor], outputs=json_outputs("probability"))
    np.testing.assert_allclose(result.as_numpy("probability"), bc_model.predict_proba(frame))
    assert result.as_numpy("label") is None  # only what was asked for


def test_without_named_outputs_every_output_comes_back_as_json(
    loans: triton.InferenceServerClient, loans_model: Any, loans_features: pd.DataFrame
) -> None:
    frame = loans_features.iloc[:ROWS]
    result = loans.infer("loans", column_inputs(frame))  # asks for binary outputs: JSON is fine
    assert result.as_numpy("label").tolist() == loans_model.predict(frame).tolist()
    np.testing.assert_allclose(result.as_numpy("probability"), loans_model.predict_proba(frame))


def test_a_bytes_2d_tensor_takes_mixed_columns_as_text(
    loans: triton.InferenceServerClient, loans_model: Any, loans_features: pd.DataFrame
) -> None:
    frame = loans_features.iloc[:ROWS]
    text = frame.astype(str).replace("nan", "").to_numpy(dtype=object)
    tensor = triton.InferInput("rows", list(text.shape), "BYTES")
    tensor.set_data_from_numpy(text, binary_data=False)
    result = loans.infer("loans", [tensor], outputs=json_outputs("probability"))
    np.testing.assert_allclose(result.as_numpy("probability"), loans_model.predict_proba(frame))


def test_the_binary_extension_is_refused_with_a_400_that_says_so(
    bc: triton.InferenceServerClient, bc_features: pd.DataFrame
) -> None:
    tensor = triton.InferInput("input", [1, bc_features.shape[1]], "FP64")
    tensor.set_data_from_numpy(bc_features.iloc[:1].to_numpy(dtype=np.float64))  # binary
    with pytest.raises(InferenceServerException, match="binary tensor extension") as raised:
        bc.infer("breast-cancer", [tensor])
    assert raised.value.status() == "400"


def test_unknown_models_and_versions_are_404(bc: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException, match="model 'loans' is not served here"):
        bc.get_model_metadata("loans")
    with pytest.raises(InferenceServerException, match="has no version '3' here") as raised:
        bc.get_model_metadata("breast-cancer", "3")
    assert raised.value.status() == "404"


def test_bad_inputs_are_400_naming_the_input(
    http: Http, loans_server: Server, loans_features: pd.DataFrame
) -> None:
    url = f"{loans_server.url}/v2/models/loans/infer"
    good = {
        name: {"name": name, "shape": [1], "datatype": "FP64", "data": [1.0]}
        for name in loans_features.columns
    }
    good["home_ownership"] |= {"datatype": "BYTES", "data": ["rent"]}
    good["purpose"] |= {"datatype": "BYTES", "data": ["car"]}
    cases = [
        ({**good, "purpose": {**good["purpose"], "data": ["yacht"]}}, "'yacht' was never seen"),
        ({**good, "income": {**good["income"], "datatype": "FP16"}}, "FP16, which has no JSON"),
        ({**good, "income": {**good["income"], "shape": [2]}}, "shape [2] (2 values) but 1"),
        ({**good, "purpose": {**good["purpose"], "datatype": "FP64"}}, "the column is category"),
        ({k: v for k, v in good.items() if k != "age"}, "input 'age' (INT64) is missing"),
        ({**good, "incme": {**good["income"], "name": "incme"}}, "did you mean 'income'?"),
    ]
    for inputs, says in cases:
        answer = http.post(url, {"inputs": list(inputs.values())})
        assert answer.status == 400, (says, answer.body)
        assert set(answer.json()) == {"error"}
        assert says in answer.json()["error"], answer.json()
    two = {
        **good,
        "purpose": {**good["purpose"], "data": ["yacht"]},
        "home_ownership": {**good["home_ownership"], "data": ["castle"]},
    }
    said = http.post(url, {"inputs": list(two.values())}).json()["error"]
    assert said.startswith("2 fields do not fit the model's input: (1) row 0, field "), said
    assert "field 'purpose': 'yacht'" in said and "field 'home_ownership': 'castle'" in said
    body = json.dumps({"inputs": list(good.values())}).encode()
    ok = http.call(url, "POST", body, content_type=None)
    assert ok.status == 200, ok.body  # no Content-Type needed
    assert http.post(url, {"inputs": [], "outputs": [{"name": "labels"}]}).status == 400
    assert (
        "did you mean 'label'"
        in http.post(url, {"inputs": list(good.values()), "outputs": [{"name": "labels"}]}).json()[
            "error"
        ]
    )
