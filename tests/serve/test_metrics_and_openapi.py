"""``/metrics`` in Prometheus' text format and ``/openapi.json``, read from a real server."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd

from prodml.serve.routes import ROUTES

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Server


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly ``labels``; 0 when there is none."""
    shown = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{re.escape(name)}{{{re.escape(shown)}}} (\S+)$", metrics, re.M)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_requests_and_errors_and_time_them_by_protocol(
    http: Http, bc_server: Server, bc_features: pd.DataFrame
) -> None:
    url = bc_server.url
    before = http.call(f"{url}/metrics").body.decode()
    records = http.records(bc_features.iloc[:3])
    for _ in range(3):
        assert http.post(f"{url}/invocations", {"dataframe_records": records}).status == 200
    assert http.post(f"{url}/invocations", {"dataframe_records": [{}]}).status == 400
    metrics = http.call(f"{url}/metrics").body.decode()

    labels = {"endpoint": "breast-cancer", "protocol": "mlflow", "model_version": "0"}
    ok = {**labels, "status": "200"}
    bad = {**labels, "status": "400"}
    counted = sample(metrics, "prodml_requests_total", **ok)
    assert counted == sample(before, "prodml_requests_total", **ok) + 3
    assert sample(metrics, "prodml_request_errors_total", **bad) >= 1
    assert sample(metrics, "prodml_request_errors_total", **ok) == 0
    latency = {"endpoint": "breast-cancer", "protocol": "mlflow"}
    assert sample(metrics, "prodml_request_latency_seconds_count", **latency) >= 4
    assert sample(metrics, "prodml_request_latency_seconds_bucket", **latency, le="+Inf") >= 4
    assert sample(metrics, "prodml_batch_rows_sum", endpoint="breast-cancer") >= 9
    assert "prodml_requests_in_flight 1.0" in metrics  # this very request


def test_openapi_document_lists_every_route(http: Http, bc_server: Server) -> None:
    answer = http.call(f"{bc_server.url}/openapi.json")
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    document = answer.json()
    assert document["openapi"].startswith("3.")
    listed = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert listed == {(r.method, r.path) for r in ROUTES}
    infer = document["paths"]["/v2/models/{name}/infer"]["post"]
    assert [p["name"] for p in infer["parameters"]] == ["name"]
    assert set(infer["responses"]) == {"200", "400", "404", "413", "500", "503"}
    invocations = document["paths"]["/invocations"]["post"]["requestBody"]["content"]
    assert set(invocations) == {"application/json", "text/csv"}
