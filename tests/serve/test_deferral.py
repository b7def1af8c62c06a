"""Who decides, on a real server at each level of automation: the answers of /predict,
/invocations and V2 say it (and the header), the review queue holds exactly the rows a
person decides and the audit sample of the model's, and the log says it for every row.
The expectations come from the model's own probabilities on the rows, computed here."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import yaml

import prodml
from prodml.automation.levels import Automation, sampled
from prodml.automation.threshold import threshold_for
from prodml.deploy.keys import Keys
from prodml.errors import ConfigError
from prodml.serve.deferral import decide
from prodml.serve.predictor import Predictions
from prodml.store.review import ReviewQueue

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Launch, Server

ROWS = 12
#: Seconds a level change may take to reach the server: its reload interval (1 s) and
#: the time to answer the probe
RELOAD_SLACK = 5.0


def expected_decider(level: str, confidence: float, defer_below: float | None) -> str:
    if level == "full":
        return "model"
    if level == "partial":
        assert defer_below is not None
        return "model" if confidence >= defer_below else "person"
    return "person"


@pytest.fixture(scope="module")
def served(
    registered_project: Path, tmp_path_factory: pytest.TempPathFactory, module_launch: Launch
) -> tuple[Server, dict[str, str], list[dict[str, Any]], np.ndarray, list[Any]]:
    """A server of breast-cancer:1 with an operator's key, and rows of spread confidence
    with the model's own probabilities and labels on them."""
    folder = Path(shutil.copytree(registered_project, tmp_path_factory.mktemp("defer") / "bc"))
    with prodml.Project(folder) as project:
        _, key = Keys(project.runs_store.database).create("ops", "operator")
        frame = project.load_data().X
        model = project.load_model()
    probabilities = model.predict_proba(frame)
    order = np.argsort(probabilities.max(axis=1))
    picked = order[np.linspace(0, len(order) - 1, ROWS).round().astype(int)]
    rows = frame.iloc[picked]
    chosen = model.predict_proba(rows)
    labels = model.classes_[chosen.argmax(axis=1)].tolist()
    records = json.loads(rows.to_json(orient="records"))
    server = module_launch(folder)
    return server, {"Authorization": f"Bearer {key}"}, records, chosen.max(axis=1), labels


def set_level(http: Http, server: Server, headers: dict[str, str], body: dict[str, Any]) -> None:
    answer = http.call(
        f"{server.url}/admin/automation", "POST", json.dumps(body).encode(), headers=headers
    )
    assert answer.status == 200, answer.body


def wait_for(
    http: Http, server: Server, records: list[dict[str, Any]], wanted: list[tuple[str, bool]]
) -> float:
    """Seconds until /predict answers ``records`` as ``wanted``: each row's decider, and
    whether its label is shown."""
    began = time.monotonic()
    while time.monotonic() - began < RELOAD_SLACK * 4:
        answer = http.post(f"{server.url}/predict", {"records": records})
        found = [(p["decided_by"], "label" in p) for p in answer.json()["predictions"]]
        if found == wanted:
            return time.monotonic() - began
        time.sleep(0.1)
    raise AssertionError(f"the server never answered with {wanted}")


@pytest.mark.parametrize(
    ("level", "audit"),
    [("human", 0.0), ("assist", 0.0), ("partial", 0.5), ("full", 0.5)],
)
def test_each_level_answers_queues_and_logs_who_decided(
    served: tuple[Server, dict[str, str], list[dict[str, Any]], np.ndarray, list[Any]],
    http: Http,
    level: str,
    audit: float,
) -> None:
    server, headers, records, confidences, labels = served
    ordered = np.sort(confidences)
    split = float(ordered[ROWS // 2 - 1] + ordered[ROWS // 2]) / 2 if level == "partial" else None
    body: dict[str, Any] = {"endpoint": "breast-cancer", "level": level, "audit_sample": audit}
    if split is not None:
        body["defer_below"] = split
    wanted = [expected_decider(level, float(c), split) for c in confidences]
    if level == "partial":
        assert set(wanted) == {"model", "person"}  # the threshold splits the rows
    shows = [level != "human" or w == "model" for w in wanted]
    set_level(http, server, headers, body)
    assert wait_for(http, server, records, list(zip(wanted, shows, strict=True))) < RELOAD_SLACK
    header = ",".join(wanted)

    native = http.post(f"{server.url}/predict", {"records": records})
    assert native.headers["x-prodml-decided-by"] == header
    predictions = native.json()["predictions"]
    for prediction, decider, show, label in zip(predictions, wanted, shows, labels, strict=True):
        assert prediction["decided_by"] == decider
        assert prediction["status"] == ("decided" if decider == "model" else "deferred")
        assert prediction.get("label") == (label if show else None)
        assert ("probabilities" in prediction) == show

    mlflow = http.post(f"{server.url}/invocations", {"dataframe_records": records})
    assert mlflow.headers["x-prodml-decided-by"] == header
    shown = [label if show else None for label, show in zip(labels, shows, strict=True)]
    assert mlflow.json()["predictions"] == shown

    columns = list(records[0])
    tensors = [
        {"name": c, "shape": [ROWS], "datatype": "FP64", "data": [r[c] for r in records]}
        for c in columns
    ]
    v2 = http.post(f"{server.url}/v2/models/breast-cancer/infer", {"inputs": tensors})
    assert v2.headers["x-prodml-decided-by"] == header
    reply = v2.json()
    assert reply["parameters"]["decided_by"] == header
    assert (reply["outputs"] == []) == (level == "human")

    ids = (
        [p["request_id"] for p in predictions]
        + mlflow.headers["x-request-ids"].split(",")
        + reply["parameters"]["request_ids"].split(",")
    )
    per_row = [(i % ROWS, request_id) for i, request_id in enumerate(ids)]
    expected = {}
    for row, request_id in per_row:
        confidence = float(confidences[row])
        if wanted[row] == "person":
            suggestion = (
                {"label": labels[row], "confidence": confidence} if level != "human" else None
            )
            expected[request_id] = ("low_confidence", suggestion, row)
        elif sampled(request_id, audit):
            expected[request_id] = ("audit_sample", None, row)
    if level in ("partial", "full"):
        assert any(reason == "audit_sample" for reason, _, _ in expected.values())

    with prodml.Project(server.project) as project:
        queue = ReviewQueue(project.runs_store.database)
        queued = {
            item.request_id: item
            for item in queue.items(open_only=False, limit=100_000)
            if item.request_id in set(ids)
        }
        logged = {row["request_id"]: row for row in project.prediction_log(limit=100_000)}
    assert set(queued) == set(expected)
    for request_id, (reason, suggestion, row) in expected.items():
        item = queued[request_id]
        assert (item.reason, item.model_version) == (reason, 1)
        if suggestion is None:
            assert item.suggestion is None
        else:
            assert item.suggestion == {
                "label": suggestion["label"],
                "confidence": pytest.approx(suggestion["confidence"], rel=1e-9),
            }
        assert item.inputs == pytest.approx(records[row], rel=1e-12)
        assert item.priority == pytest.approx(1 - float(confidences[row]), rel=1e-9)
    assert [logged[request_id]["decided_by"] for _, request_id in per_row] == wanted * 3


def test_a_target_error_in_the_project_file_is_met_by_the_threshold_chosen_at_load(
    registered_project: Path, tmp_path: Path, launch: Launch, http: Http
) -> None:
    folder = Path(shutil.copytree(registered_project, tmp_path / "bc"))
    file = folder / "prodml.yaml"
    settings = yaml.safe_load(file.read_text(encoding="utf-8"))
    settings.setdefault("serve", {})["automation"] = {"level": "partial", "target_error": 0.1}
    file.write_text(yaml.safe_dump(settings), encoding="utf-8")
    with prodml.Project(folder) as project:
        threshold = threshold_for(project.automation_curve("breast-cancer"), 0.1).threshold
        frame = project.load_data().X
        model = project.load_model()
    confidences = model.predict_proba(frame).max(axis=1)
    wanted = ["model" if c >= threshold else "person" for c in confidences]
    assert "person" in wanted and "model" in wanted  # the threshold splits the rows
    server = launch(folder)
    records = json.loads(frame.to_json(orient="records"))
    answer = http.post(f"{server.url}/predict", {"records": records})
    assert [p["decided_by"] for p in answer.json()["predictions"]] == wanted


def test_an_item_the_queue_refuses_fails_its_answer_and_its_log_row_together(
    registered_project: Path, tmp_path: Path, launch: Launch, http: Http
) -> None:
    """Items are committed in the log's own transaction: when the store refuses one (a
    trigger here), the answer is a 503 and its log row is not kept either; once the store
    takes items again, the answer, its log row and its item are all there."""
    folder = Path(shutil.copytree(registered_project, tmp_path / "bc"))
    with prodml.Project(folder) as project:
        project.automate("breast-cancer", "human")
        file = project.runs_store.database.file
        records = json.loads(project.load_data().X.head(2).to_json(orient="records"))
    assert file is not None
    server = launch(folder)
    with sqlite3.connect(file) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON review_items "
            "BEGIN SELECT RAISE(ABORT, 'the queue is closed'); END"
        )
    refused = http.post(f"{server.url}/predict", {"records": records})
    assert refused.status == 503
    assert "queued for review" in refused.body.decode()
    with prodml.Project(folder) as project:
        assert project.prediction_log(limit=100) == []
    with sqlite3.connect(file) as connection:
        connection.execute("DROP TRIGGER refuse")
    taken = http.post(f"{server.url}/predict", {"records": records})
    assert taken.status == 200
    ids = [p["request_id"] for p in taken.json()["predictions"]]
    with prodml.Project(folder) as project:
        logged = [row["request_id"] for row in project.prediction_log(limit=100)]
        items = project.review_queue.items(open_only=False, limit=100)
    assert sorted(logged) == sorted(ids)
    assert sorted(item.request_id for item in items) == sorted(ids)


REGRESSION = """project: area
task: regression
data:
  source: data/breast_cancer.csv
  target: mean_area
  id: patient_id
  features: [mean_radius, mean_texture]
  split: {method: random, dev: 0.2, test: 0.2, seed: 0}
model: {factory: sklearn.linear_model.LinearRegression}
"""


def test_a_regressor_is_deferred_whole_at_assist_and_refused_partial(
    tmp_path: Path, launch: Launch, http: Http
) -> None:
    """A regressor has no confidence: partial is refused (the command and the project
    file), and at assist every answer is deferred with the value as its suggestion."""
    folder = prodml.init(tmp_path / "area", example="breast-cancer")
    (folder / "prodml.yaml").write_text(REGRESSION, encoding="utf-8")
    with prodml.Project(folder) as project:
        project.register(project.fit().id, force=True, reason="a test of deferral")
        with pytest.raises(ConfigError, match="endpoint area's model is a regressor"):
            project.automate("area", "partial", defer_below=0.7)
        project.automate("area", "assist")
        frame = project.load_data().X.head(3)
        values = project.load_model().predict(frame).tolist()
    server = launch(folder)
    records = json.loads(frame.to_json(orient="records"))
    answer = http.post(f"{server.url}/predict", {"records": records})
    predictions = answer.json()["predictions"]
    assert [(p["decided_by"], p["status"]) for p in predictions] == [("person", "deferred")] * 3
    assert [p["value"] for p in predictions] == pytest.approx(values, rel=1e-9)
    server.stop()
    with prodml.Project(folder) as project:
        items = {i.request_id: i for i in project.review_queue.items("area")}
    for prediction, value in zip(predictions, values, strict=True):
        item = items[prediction["request_id"]]
        assert item.reason == "low_confidence"
        assert item.suggestion == {"label": pytest.approx(value, rel=1e-9), "confidence": None}
    settings = yaml.safe_load(REGRESSION)
    settings["serve"] = {"automation": {"level": "partial", "defer_below": 0.7}}
    (folder / "prodml.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    with pytest.raises(ConfigError, match="a regressor gives none"):
        prodml.Project(folder)


@pytest.mark.parametrize(
    "automation",
    [
        Automation("full"),
        Automation("full", audit_sample=0.3),
        Automation("partial", 0.7),
        Automation("assist"),
        Automation("human"),
    ],
    ids=lambda a: f"{a.level}-{a.audit_sample}",
)
def test_the_model_decides_all_exactly_when_decide_gives_it_every_row_unreviewed(
    automation: Automation,
) -> None:
    # the server skips decide() when model_decides_all: that must change nothing
    rng = np.random.default_rng(5)
    top = rng.uniform(0.5, 1.0, 500)
    answered = Predictions([1] * 500, [[1 - p, p] for p in top], None, ["0", "1"])
    decided = decide(automation, answered, [f"r-{i}" for i in range(500)])
    everything_the_models = set(decided.deciders) == {"model"} and not decided.reviewed
    assert automation.model_decides_all == everything_the_models
