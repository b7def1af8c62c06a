"""``serve.sticky_key: FIELD`` on a real server with a canary at 30%: a request goes to the
version its field's value hashes to, the same value always to the same version, in every
protocol and form; over many values the canary's share is near 30%. The header wins over
the field; a request without the field routes by its request id and is never refused;
a field no request could carry stops ``prodml serve`` at its start."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

import prodml
from prodml.serve.launch import checked_options
from prodml.serve.routing import point
from prodml.serve.sticky import text

if TYPE_CHECKING:
    from tests.serve.conftest import Answer, Http, Launch, Refused, Server
SHARE = 30.0
VALUES = 150  # distinct values of the field, sent in each protocol
PRIMARY, CANARY = ("breast-cancer:1", "primary"), ("breast-cancer:2", "canary")


def with_sticky_key(registered: Path, where: Path, field: str) -> Path:
    """A copy of the registered breast-cancer project, ``serve.sticky_key: field``, with a
    dummy version 2 registered beside version 1."""
    folder = Path(shutil.copytree(registered, where / "bc"))
    file = folder / "prodml.yaml"
    settings = yaml.safe_load(file.read_text(encoding="utf-8"))
    file.write_text(yaml.safe_dump({**settings, "serve": {"sticky_key": field}}), encoding="utf-8")
    with prodml.Project(folder) as project:
        project.register(project.fit(prodml.ModelSpec(factory="sklearn.dummy.DummyClassifier")).id)
    return folder


@pytest.fixture(scope="module", params=["patient_id", "mean_radius"])
def canary(
    request: pytest.FixtureRequest,
    registered_project: Path,
    tmp_path_factory: pytest.TempPathFactory,
    module_launch: Launch,
) -> tuple[Server, str]:
    """A server whose canary (version 2) answers 30% of the values of the sticky field: the
    data's id, which requests carry beside the inputs, or an input of the model."""
    field: str = request.param
    folder = with_sticky_key(registered_project, tmp_path_factory.mktemp("sticky"), field)
    with prodml.Project(folder) as project:
        deployer = project.deployer("tests")
        deployer.deploy("breast-cancer:2", "canary", ramp=[SHARE, 100], force=True, reason="t")
    return module_launch(folder), field


@pytest.fixture(scope="module")
def record(registered_project: Path) -> dict[str, Any]:
    """One row of breast-cancer's inputs, as JSON."""
    with prodml.Project(registered_project) as project:
        row: dict[str, Any] = json.loads(project.load_data().X.iloc[:1].to_json(orient="records"))[
            0
        ]
    return row


def value(field: str, i: int) -> Any:
    """The ``i``-th value of ``field``: an id as text, or a number of mean_radius."""
    return f"patient-{i}" if field == "patient_id" else round(10.005 + i * 0.01, 3)


def expected(v: Any) -> tuple[str, str]:
    """The version and role that answer the value ``v`` of the sticky field."""
    key = text(v)
    assert key is not None
    return CANARY if point(key) < SHARE else PRIMARY


def answered_by(answer: Answer) -> tuple[str, str]:
    assert answer.status == 200, answer.body
    return answer.headers["x-prodml-model"], answer.headers["x-prodml-role"]


Send = Callable[["Http", "Server", dict[str, Any], int], "Answer"]


def native(http: Http, server: Server, row: dict[str, Any], i: int) -> Answer:
    return http.post(f"{server.url}/predict", {"records": [row]})


def mlflow(http: Http, server: Server, row: dict[str, Any], i: int) -> Answer:
    """Each of the forms that name their fields, in turn."""
    url = f"{server.url}/invocations"
    form = i % 4
    if form == 3:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
        return http.call(url, "POST", out.getvalue().encode(), "text/csv")
    bodies = [
        {"dataframe_records": [row]},
        {"dataframe_split": {"columns": list(row), "data": [list(row.values())]}},
        {"inputs": {name: [v] for name, v in row.items()}},
    ]
    return http.post(url, bodies[form])


def v2(http: Http, server: Server, row: dict[str, Any], i: int) -> Answer:
    """One tensor an input; a field that is no input goes in the request's parameters: its
    value, or (every other request) a list of one value a row."""
    inputs = [
        {"name": name, "shape": [1], "datatype": "FP64", "data": [v]}
        for name, v in row.items()
        if name != "patient_id"
    ]
    body: dict[str, Any] = {"inputs": inputs}
    if "patient_id" in row:
        value = row["patient_id"]
        body["parameters"] = {"patient_id": [value] if i % 2 else value}
    return http.post(f"{server.url}/v2/models/breast-cancer/infer", body)


@pytest.mark.parametrize("send", [native, mlflow, v2], ids=lambda f: f.__name__)
def test_one_value_of_the_field_always_meets_one_version_and_the_share_holds(
    http: Http,
    canary: tuple[Server, str],
    record: dict[str, Any],
    send: Send,
) -> None:
    server, field = canary
    seen = []
    for i in range(VALUES):
        row = {**record, field: value(field, i)}
        first = answered_by(send(http, server, row, i))
        again = answered_by(send(http, server, row, i + 1))  # the same value, another form
        assert first == again == expected(row[field]), (field, row[field])
        seen.append(first)

    share = seen.count(CANARY) / len(seen)
    assert abs(share - SHARE / 100) < 0.1, share
    assert set(seen) == {PRIMARY, CANARY}


def test_the_header_wins_over_the_field(
    http: Http, canary: tuple[Server, str], record: dict[str, Any]
) -> None:
    server, field = canary
    values = [value(field, i) for i in range(VALUES)]
    to_canary = next(v for v in values if expected(v) == CANARY)
    to_primary = next(f"user-{i}" for i in range(1000) if point(f"user-{i}") >= SHARE)
    body = json.dumps({"records": [{**record, field: to_canary}]}).encode()

    answer = http.call(f"{server.url}/predict", "POST", body, headers={"X-Prodml-Key": to_primary})

    assert answered_by(answer) == PRIMARY
    assert answered_by(http.call(f"{server.url}/predict", "POST", body)) == CANARY


def test_a_request_whose_field_cannot_be_read_routes_by_its_request_id(
    http: Http, canary: tuple[Server, str], record: dict[str, Any]
) -> None:
    """The id left out or null (never refused for it), or an input sent in a form that
    names no fields (MLflow's instances as lists of values): a random point each."""
    server, field = canary
    if field == "patient_id":
        rows = [record, {**record, field: None}] * 40
        answers = [answered_by(native(http, server, row, 0)) for row in rows]
    else:
        body = json.dumps({"instances": [list(record.values())]}).encode()
        answers = [
            answered_by(http.call(f"{server.url}/invocations", "POST", body)) for _ in range(80)
        ]
    assert set(answers) == {PRIMARY, CANARY}  # 0.7**80 to see no canary


def test_a_field_no_request_carries_stops_serve_at_its_start(
    registered_project: Path, tmp_path: Path, refused: Refused
) -> None:
    folder = with_sticky_key(registered_project, tmp_path, "patient_idd")

    assert refused(folder) == [
        "error: serve.sticky_key 'patient_idd' is not a field of the served models' inputs or "
        "the data's id, time and metadata columns; fields are: patient_id, mean_radius, "
        "mean_texture, mean_perimeter, mean_area, mean_smoothness, mean_compactness, "
        "mean_concavity, mean_concave_points, mean_symmetry, mean_fractal_dimension, "
        "radius_error, ... (31 in all); did you mean 'patient_id'?"
    ]
    with prodml.Project(folder) as project:  # serving a run (--run), its inputs count
        newest = project.runs()[0].id
    with pytest.raises(prodml.ProdmlError, match=r"serve\.sticky_key 'patient_idd' is not a"):
        checked_options(folder, "127.0.0.1", None, newest)
    settings = yaml.safe_load((folder / "prodml.yaml").read_text(encoding="utf-8"))
    settings["serve"] = {"sticky_key": "worst_area"}
    (folder / "prodml.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    assert checked_options(folder, "127.0.0.1", None, newest).sticky_key == "worst_area"


#: Bodies whose sticky field is anywhere but where it belongs, or nested oddly: each
#: protocol's answer, whatever it is, is not a 5xx.
ODD: list[tuple[str, Any]] = [
    ("/predict", {"records": {"patient_id": 1}}),
    ("/predict", {"records": [[1, 2], {"patient_id": 1}]}),
    ("/predict", {"records": [{"patient_id": [1]}, {"patient_id": {"a": 1}}]}),
    ("/invocations", {"dataframe_split": {"columns": [["x"], {"a": 1}, "patient_id"]}}),
    ("/invocations", {"dataframe_split": {"columns": ["patient_id"], "data": [[]]}}),
    ("/invocations", {"dataframe_split": {"columns": ["patient_id"], "data": [1, [2]]}}),
    ("/invocations", {"dataframe_split": {"columns": ["mean_radius"], "data": "x"}}),
    ("/invocations", {"dataframe_split": ["patient_id"]}),
    ("/invocations", {"inputs": {"patient_id": [], "mean_radius": {"a": [1]}}}),
    ("/invocations", {"inputs": [[1], {"mean_radius": float("nan")}]}),
    ("/invocations", {"instances": [{"patient_id": float("inf")}]}),
    ("/v2/models/breast-cancer/infer", {"inputs": [{"name": "mean_radius", "data": [[[[]]]]}]}),
    ("/v2/models/breast-cancer/infer", {"inputs": [{"name": ["mean_radius"]}, 3]}),
    ("/v2/models/breast-cancer/infer", {"inputs": "x", "parameters": {"patient_id": [1]}}),
    ("/v2/models/breast-cancer/infer", {"inputs": [], "parameters": ["patient_id"]}),
]


@pytest.mark.parametrize(("path", "body"), ODD, ids=[f"{p} {i}" for i, (p, _) in enumerate(ODD)])
def test_a_body_of_any_shape_is_answered_without_a_server_error(
    http: Http, canary: tuple[Server, str], path: str, body: Any
) -> None:
    server, _ = canary
    answer = http.post(f"{server.url}{path}", body)
    assert 400 <= answer.status < 500, answer.body
