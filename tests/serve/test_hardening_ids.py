"""What the monitor counts cannot be bent by a client: errors count against an endpoint
only when a request reached it, and every logged prediction has an id of its own."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import func, select

import prodml
from prodml.store.tables import PredictionRow, RequestErrorRow

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Server


def errors_by_endpoint(server: Server) -> dict[str, int]:
    with prodml.Project(server.project) as project, project.monitoring.database.session() as s:
        query = select(RequestErrorRow.endpoint, func.count()).group_by(RequestErrorRow.endpoint)
        return {endpoint: int(n) for endpoint, n in s.execute(query).all()}


def logged(server: Server, request_id: str) -> int:
    with prodml.Project(server.project) as project, project.monitoring.database.session() as s:
        query = select(func.count()).select_from(PredictionRow)
        return int(s.scalar(query.where(PredictionRow.request_id == request_id)) or 0)


def test_requests_for_a_model_that_does_not_exist_count_against_no_endpoint(
    http: Http, bc_server: Server
) -> None:
    before = errors_by_endpoint(bc_server)
    for _ in range(20):
        answer = http.post(f"{bc_server.url}/v2/models/nope/infer", {"inputs": []})
        assert answer.status == 404
        assert (
            http.post(f"{bc_server.url}/predict", {"records": [], "endpoint": "nope"}).status == 404
        )
    # one error of the real endpoint: once it is counted, the log has written what came before
    assert http.post(f"{bc_server.url}/v2/models/breast-cancer/infer", {"inputs": []}).status == 400
    deadline = time.monotonic() + 10
    after = errors_by_endpoint(bc_server)
    while after.get("breast-cancer", 0) == before.get("breast-cancer", 0):
        assert time.monotonic() < deadline, "the real endpoint's error was never logged"
        time.sleep(0.05)
        after = errors_by_endpoint(bc_server)
    assert {**before, "breast-cancer": before.get("breast-cancer", 0) + 1} == after


def v2_request(frame: pd.DataFrame, request_id: str) -> dict[str, Any]:
    data = frame.to_numpy().tolist()
    shape = list(frame.shape)
    return {
        "id": request_id,
        "inputs": [{"name": "x", "shape": shape, "datatype": "FP64", "data": data}],
    }


def test_two_v2_requests_with_one_client_id_log_distinct_ids_and_feedback_finds_one(
    http: Http, bc_server: Server, bc_features: pd.DataFrame
) -> None:
    url = f"{bc_server.url}/v2/models/breast-cancer/infer"
    client_id = f"order-{uuid.uuid4().hex[:8]}"
    answers = [http.post(url, v2_request(bc_features.iloc[:2], client_id)) for _ in range(2)]
    assert [a.status for a in answers] == [200, 200]
    assert [a.json()["id"] for a in answers] == [client_id, client_id]  # echoed, as V2 says
    ids = [i for a in answers for i in a.json()["parameters"]["request_ids"].split(",")]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert all(uuid.UUID(i).version == 7 for i in ids)
    stored = http.post(f"{bc_server.url}/feedback", {"request_id": ids[0], "label": "benign"})
    assert stored.json() == {"stored": 1}
    assert [logged(bc_server, i) for i in ids] == [1, 1, 1, 1]
    assert logged(bc_server, f"{client_id}-0") == 0
