"""The ``data.metadata`` fields a request carries beside the inputs, on a real server of the
loans example (gender and region are its metadata): in every protocol form that names
fields the logged row decodes to the inputs and the metadata exactly as sent, and the
model answers as it does without them; a request without them logs as it always did; a
value that is not one JSON value is refused, naming the row and the field; a shadow
comparison is cut by the metadata sent; the monitor, ``Project.prediction_log`` and the
log's export read the rows that carry them."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pandas as pd
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
import yaml

import prodml
from prodml.data.schema import Schema
from prodml.store.log_export import export_parquet
from prodml.store.log_format import Stream, decode_inputs

if TYPE_CHECKING:
    from tests.serve.conftest import Answer, Http, Launch, Server

METADATA = ("gender", "region")
WINDOW = 20  # the monitor's window, in predictions
_PARAMS = {"categorical_features": "from_dtype", "random_state": 0}
#: (columns of its stream, decoded inputs, stream id, the inputs as stored) of a logged row
Logged = tuple[tuple[str, ...], dict[str, Any], int, bytes]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loans example with a monitor window of WINDOW predictions: version 1 the
    primary, version 2 (fewer trees) registered beside it."""
    folder = prodml.init(tmp_path_factory.mktemp("metadata") / "loans", example="loans")
    file = folder / "prodml.yaml"
    settings = yaml.safe_load(file.read_text(encoding="utf-8"))
    file.write_text(
        yaml.safe_dump({**settings, "monitor": {"window": WINDOW, "min_rows": WINDOW}}),
        encoding="utf-8",
    )
    factory = "sklearn.ensemble.HistGradientBoostingClassifier"
    with prodml.Project(folder) as opened:
        first = opened.fit(prodml.ModelSpec(factory=factory, params={**_PARAMS, "max_iter": 30}))
        opened.register(first.id, force=True, reason="a test")
        second = opened.fit(prodml.ModelSpec(factory=factory, params={**_PARAMS, "max_iter": 5}))
        opened.register(second.id)
    return folder


@pytest.fixture(scope="module")
def server(project: Path, module_launch: Launch) -> Server:
    return module_launch(project)


@pytest.fixture(scope="module")
def inputs(project: Path) -> tuple[str, ...]:
    """The model's inputs, in the order of its input schema."""
    with prodml.Project(project) as opened:
        raw = opened.registry.get("loans:1").input_schema
    assert raw is not None
    return tuple(c.name for c in Schema.from_dict(raw).columns)


@pytest.fixture(scope="module")
def applications(project: Path) -> pd.DataFrame:
    """Loan applications without a missing value: their features and metadata."""
    with prodml.Project(project) as opened:
        data = opened.load_data()
    return data.frame[[*data.features, *METADATA]].dropna().reset_index(drop=True)


def logged(project: Path, ids: list[str], role: str = "primary") -> list[Logged]:
    """The row each request id logged in ``role``, read from the store's file."""
    with contextlib.closing(sqlite3.connect(project / ".prodml" / "prodml.db")) as db:
        rows = db.execute(
            "select p.request_id, s.columns, p.stream_id, p.inputs from predictions p "
            "join log_streams s on s.id = p.stream_id where s.role = ?",
            (role,),
        ).fetchall()
    found = {}
    for request_id, columns, stream, blob in rows:
        names = tuple(json.loads(columns))
        found[request_id] = (names, decode_inputs(blob, names), stream, blob)
    return [found[request_id] for request_id in ids]


def typed(values: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    """Values with their types: ``True`` is not ``1``, nor ``7.0`` ``7``."""
    return {name: (type(value), value) for name, value in values.items()}


# --- the protocols --------------------------------------------------------------------------


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(name for row in rows for name in row))


def _native(http: Http, server: Server, rows: list[dict[str, Any]]) -> tuple[list[str], Any]:
    answer = http.post(f"{server.url}/predict", {"records": rows})
    assert answer.status == 200, answer.body
    predictions = answer.json()["predictions"]
    return [p["request_id"] for p in predictions], [p["probabilities"] for p in predictions]


def _mlflow(form: str) -> Callable[[Http, Server, list[dict[str, Any]]], tuple[list[str], Any]]:
    def send(http: Http, server: Server, rows: list[dict[str, Any]]) -> tuple[list[str], Any]:
        columns = _columns(rows)
        bodies = {
            "dataframe_records": rows,
            "instances": rows,
            "dataframe_split": {
                "columns": columns,
                "data": [[row.get(c) for c in columns] for row in rows],
            },
            "inputs": {c: [row.get(c) for row in rows] for c in columns},
        }
        answer = http.post(f"{server.url}/invocations", {form: bodies[form]})
        assert answer.status == 200, answer.body
        return answer.headers["x-request-ids"].split(","), answer.json()["predictions"]

    return send


def _v2(http: Http, server: Server, rows: list[dict[str, Any]]) -> tuple[list[str], Any]:
    """The features as one tensor a column; the metadata in the parameters, a list of one
    value a row."""
    first = rows[0]
    tensors = [
        {
            "name": name,
            "shape": [len(rows)],
            "datatype": {str: "BYTES", int: "INT64"}.get(type(first[name]), "FP64"),
            "data": [row[name] for row in rows],
        }
        for name in first
        if name not in METADATA
    ]
    carried = [name for name in _columns(rows) if name in METADATA]
    body: dict[str, Any] = {"inputs": tensors}
    if carried:
        body["parameters"] = {name: [row.get(name) for row in rows] for name in carried}
    answer = http.post(f"{server.url}/v2/models/loans/infer", body)
    assert answer.status == 200, answer.body
    reply = answer.json()
    return reply["parameters"]["request_ids"].split(","), reply["outputs"]


FORMS = {
    "predict": _native,
    **{form: _mlflow(form) for form in ("dataframe_records", "instances", "dataframe_split")},
    "inputs by column": _mlflow("inputs"),
    "v2 parameters": _v2,
}


@pytest.mark.parametrize("form", FORMS)
def test_each_form_logs_the_metadata_sent_beside_the_inputs_and_answers_as_without(
    form: str,
    project: Path,
    server: Server,
    http: Http,
    applications: pd.DataFrame,
    inputs: tuple[str, ...],
) -> None:
    features = http.records(applications.drop(columns=list(METADATA)).head(3))
    # every kind of JSON value; the last row has no region, so it logs null for it
    carried: list[dict[str, Any]] = [
        {"gender": "female", "region": "north"},
        {"gender": None, "region": 7},
        {"gender": True},
    ]
    send = FORMS[form]
    ids, answer = send(http, server, [{**f, **m} for f, m in zip(features, carried, strict=True)])
    plain_ids, plain = send(http, server, features)

    assert answer == plain
    for (columns, values, _, _), (plain_columns, plain_values, _, _), sent in zip(
        logged(project, ids), logged(project, plain_ids), carried, strict=True
    ):
        assert plain_columns == inputs
        assert columns == (*inputs, *METADATA)
        assert {name: values[name] for name in inputs} == plain_values
        expected = {name: sent.get(name) for name in METADATA}
        assert typed({name: values[name] for name in METADATA}) == typed(expected)


def test_a_csv_logs_its_metadata_cells_as_text_and_an_empty_one_as_null(
    project: Path, server: Server, http: Http, applications: pd.DataFrame, inputs: tuple[str, ...]
) -> None:
    sent = applications.head(2).assign(region=["north", ""], gender=["female", "7"])
    text = io.StringIO()
    sent.to_csv(text, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    answer = http.call(f"{server.url}/invocations", "POST", text.getvalue().encode(), "text/csv")
    assert answer.status == 200, answer.body

    rows = logged(project, answer.headers["x-request-ids"].split(","))
    assert [row[0] for row in rows] == [(*inputs, *METADATA)] * 2
    assert [(row[1]["gender"], row[1]["region"]) for row in rows] == [
        ("female", "north"),
        ("7", None),
    ]


def test_v2_takes_one_metadata_value_for_every_row_of_its_request(
    project: Path, server: Server, http: Http, applications: pd.DataFrame
) -> None:
    rows = http.records(applications.drop(columns=list(METADATA)).head(2))
    tensors = [
        {"name": name, "shape": [2], "datatype": "BYTES", "data": [str(r[name]) for r in rows]}
        for name in rows[0]
    ]
    body = {"inputs": tensors, "parameters": {"region": "south", "note": {"not": "metadata"}}}
    answer = http.post(f"{server.url}/v2/models/loans/infer", body)
    assert answer.status == 200, answer.body

    ids = answer.json()["parameters"]["request_ids"].split(",")
    assert [row[1]["region"] for row in logged(project, ids)] == ["south", "south"]
    assert all("note" not in row[0] and "gender" not in row[0] for row in logged(project, ids))


def test_a_request_without_metadata_logs_to_the_stream_it_always_did(
    project: Path, server: Server, http: Http, applications: pd.DataFrame, inputs: tuple[str, ...]
) -> None:
    record = http.records(applications.drop(columns=list(METADATA)).head(1))[0]
    before, _ = _native(http, server, [record])
    with_metadata, _ = _native(http, server, [{**record, "gender": "male"}])
    after, _ = _mlflow("dataframe_records")(http, server, [record])
    (first, with_gender, second) = logged(project, [*before, *with_metadata, *after])

    with prodml.Project(project) as opened:
        version = opened.registry.get("loans:1")
        classes = tuple(opened.load_model(version.run_id).classes_.tolist())
    stream = Stream("loans", "loans", 1, version.run_id, "primary", inputs, classes)
    with contextlib.closing(sqlite3.connect(project / ".prodml" / "prodml.db")) as db:
        (key,) = db.execute("select key from log_streams where id = ?", (first[2],)).fetchone()
    assert key == stream.key  # the stream of the inputs alone, as before metadata was logged
    assert first[2] == second[2] != with_gender[2]
    # the inputs as the log's format stores a row of values not all floats: b"j" and a list
    assert first[3] == second[3] == b"j" + orjson.dumps([record[name] for name in inputs])


def test_a_metadata_value_that_is_not_one_json_value_is_refused_naming_row_and_field(
    project: Path, server: Server, http: Http, applications: pd.DataFrame
) -> None:
    record = http.records(applications.drop(columns=list(METADATA)).head(1))[0]
    bad = [record, {**record, "gender": ["female"]}]
    count = len(_every_primary_row(project))

    native = http.post(f"{server.url}/predict", {"records": bad})
    mlflow = http.post(f"{server.url}/invocations", {"dataframe_records": bad})
    tensors = [
        {"name": name, "shape": [1], "datatype": "BYTES", "data": [str(value)]}
        for name, value in record.items()
    ]
    nested = _infer(http, server, tensors, {"region": {"north": 1}})
    short = _infer(http, server, tensors, {"region": ["north", "south"]})

    allowed = "a data.metadata field holds one value: text, a number, true/false or null"
    assert native.status == 422
    assert native.json() == {
        "error": f"row 1, field 'gender': [\"female\"] is a list; {allowed}",
        "field": "gender",
    }
    assert mlflow.status == 400 and mlflow.json()["message"] == native.json()["error"]
    assert nested.status == 400
    assert (
        nested.json()["error"] == f"row 0, field 'region': {{\"north\":1}} is an object; {allowed}"
    )
    assert short.status == 400
    assert short.json()["error"] == (
        "\"parameters\": field 'region' has 2 values but the request has 1 rows; send one "
        "value a row, or one value for every row"
    )
    assert len(_every_primary_row(project)) == count  # nothing refused was logged


def _infer(http: Http, server: Server, tensors: list[Any], parameters: Any) -> Answer:
    return http.post(
        f"{server.url}/v2/models/loans/infer", {"inputs": tensors, "parameters": parameters}
    )


def _every_primary_row(project: Path) -> list[Any]:
    with contextlib.closing(sqlite3.connect(project / ".prodml" / "prodml.db")) as db:
        return db.execute(
            "select p.id from predictions p join log_streams s on s.id = p.stream_id "
            "where s.role = 'primary'"
        ).fetchall()


# --- the log's readers ----------------------------------------------------------------------


def test_the_monitor_scores_drift_on_the_features_alone_over_rows_with_metadata(
    project: Path, server: Server, http: Http, applications: pd.DataFrame, inputs: tuple[str, ...]
) -> None:
    rows = http.records(applications.head(2 * WINDOW))
    for start in range(0, len(rows), 5):
        _native(http, server, rows[start : start + 5])

    with prodml.Project(project) as opened:
        done = opened.monitor("loans")
    scored = {s.column for s in done.scores if s.kind in ("drift", "skew")}
    assert done.windows and scored == set(inputs)
    assert not [m for w in done.windows for m in w.metrics if m.split(".")[-1] in METADATA]


def test_the_prediction_log_and_its_export_carry_the_metadata_sent(
    project: Path,
    server: Server,
    http: Http,
    applications: pd.DataFrame,
    inputs: tuple[str, ...],
    tmp_path: Path,
) -> None:
    features = http.records(applications.drop(columns=list(METADATA)).iloc[100:103])
    carried: list[dict[str, Any]] = [
        {"gender": "female", "region": "north"},
        {"gender": None, "region": 7},
        {"gender": True, "region": 2.5},
    ]
    sent = [{**f, **m} for f, m in zip(features, carried, strict=True)]
    ids, _ = _native(http, server, sent)

    with prodml.Project(project) as opened:
        newest = {row["request_id"]: row["inputs"] for row in opened.prediction_log(limit=50)}
        written = export_parquet(opened.runs_store.database, tmp_path / "archive")
    assert [typed(newest[request_id]) for request_id in ids] == [typed(row) for row in sent]
    (file,) = [f for f in written if f.stream.columns == (*inputs, *METADATA)]
    exported = {row["request_id"]: row for row in pq.read_table(file.path).to_pylist()}
    mine = [exported[request_id] for request_id in ids]
    assert [{name: row[f"inputs.{name}"] for name in inputs} for row in mine] == features
    # text in one row and numbers or true/false in others: text, as JSON writes them
    assert [row["inputs.gender"] for row in mine] == ["female", None, "true"]
    assert [row["inputs.region"] for row in mine] == ["north", "7", "2.5"]


# --- a shadow, compared by slice --------------------------------------------------------------


def test_a_shadow_comparison_is_cut_by_the_metadata_sent_with_the_requests(
    project: Path, server: Server, http: Http, applications: pd.DataFrame
) -> None:
    with prodml.Project(project) as opened:
        opened.deployer("tests").deploy("loans:2", "shadow", force=True, reason="a test")
    _until(lambda: http.call(f"{server.url}/v2/models/loans/versions/2/ready").status == 200)
    sent = applications.sample(200, random_state=1)
    rows = http.records(sent)
    ids = [
        i
        for start in range(0, len(rows), 10)
        for i in _native(http, server, rows[start : start + 10])[0]
    ]

    with prodml.Project(project) as opened:
        _until(lambda: opened.shadow_comparison("loans").pairs >= len(rows))
        found = opened.shadow_comparison("loans")
    shadowed = [values for _, values, _, _ in logged(project, ids, role="shadow")]
    assert [{name: v[name] for name in METADATA} for v in shadowed] == [
        {name: row[name] for name in METADATA} for row in rows
    ]
    assert found.pairs == len(rows) and found.unsliced == []
    cut = {s.name: s for s in found.slices}
    counts = {
        **{f"gender={g}": n for g, n in Counter(sent["gender"]).items()},
        **{f"region={r}": n for r, n in Counter(sent["region"]).items()},
        **{
            f"gender={g} & region={r}": n
            for (g, r), n in Counter(zip(sent["gender"], sent["region"], strict=True)).items()
        },
    }
    for name, count in counts.items():
        assert cut[name].rows == {"primary": count, "candidate": count}, name
        assert cut[name].sufficient == (count >= found.min_count), name
    families = {s.family for s in found.slices if "=" in s.name}
    assert {"gender", "region"} <= families


def _until(done: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.1)
