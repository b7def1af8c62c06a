"""Monitoring a real server: errors counted, labels through ``POST /feedback`` and
``prodml feedback``, ``prodml monitor``, drift and alert gauges on ``/metrics``,
``prodml alerts list`` and the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from sklearn.metrics import accuracy_score

import prodml

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Launch

PRODML = Path(sys.executable).parent / "prodml"
BAD_AT = (10, 20, 30, 40, 60, 70, 80, 90)  # a bad request before these good ones


def prodml_cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PRODML), *args, "-C", str(project)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_COLOR": "1", "COLUMNS": "200", "PATH": str(PRODML.parent)},
    )


def test_monitoring_a_served_model_end_to_end(tmp_path: Path, launch: Launch, http: Http) -> None:
    project = prodml.init(tmp_path / "bc", example="breast-cancer")
    settings = yaml.safe_load((project / "prodml.yaml").read_text())
    settings["monitor"] = {
        "window": 50,
        "min_rows": 50,  # drift verdicts on these small windows too
        "alerts": [{"metric": "error_rate", "above": 0.05}, {"metric": "accuracy", "below": 0.5}],
    }
    (project / "prodml.yaml").write_text(yaml.safe_dump(settings))
    with prodml.Project(project) as opened:
        opened.fit()
        data = opened.load_data()
    server = launch(project)
    records = http.records(data.X.head(100))
    ids = []
    for i, record in enumerate(records):
        if i in BAD_AT:
            bad = http.post(f"{server.url}/predict", {"records": [{**record, "mean_radius": "x"}]})
            assert bad.status == 422
        answer = http.post(f"{server.url}/predict", {"records": [record]})
        ids.append(answer.json()["predictions"][0]["request_id"])

    # labels through POST /feedback: late, partial (the first 60), repeated (last counts)
    truth = data.y[:100].tolist()
    other = {"malignant": "benign", "benign": "malignant"}
    wrong = [{"request_id": i, "label": other[y]} for i, y in zip(ids[:60], truth, strict=False)]
    right = [{"request_id": i, "label": y} for i, y in zip(ids[:60], truth, strict=False)]
    assert http.post(f"{server.url}/feedback", {"feedback": wrong}).json() == {"stored": 60}
    assert http.post(f"{server.url}/feedback", {"feedback": right}).json() == {"stored": 60}
    unknown = http.post(f"{server.url}/feedback", {"request_id": "nope", "label": 1})
    assert unknown.status == 404 and "nope" in unknown.json()["error"]
    malformed = http.post(f"{server.url}/feedback", {"feedback": [{"request_id": ids[0]}]})
    assert malformed.status == 400 and "label" in malformed.json()["error"]

    # the other 40 from a file, through the command line
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": ids[60:], "label": truth[60:]}).to_csv(labels, index=False)
    fed = prodml_cli(project, "feedback", str(labels), "--json")
    assert fed.returncode == 0, fed.stderr
    assert json.loads(fed.stdout) == {"stored": 40, "unknown": []}

    ran = prodml_cli(project, "monitor", "--once", "--json")
    assert ran.returncode == 0, ran.stderr
    done: dict[str, Any] = json.loads(ran.stdout)
    first, second = done["windows"]
    assert (first["rows"], second["rows"]) == (50, 50)
    said = {}
    with prodml.Project(project) as opened:
        for row in opened.prediction_log(limit=100):
            said[row["request_id"]] = row["label"]
    for window, part in ((first, slice(0, 50)), (second, slice(50, 100))):
        metrics = window["metrics"]
        assert metrics["errors"] == 4
        assert metrics["error_rate"] == 4 / 54
        expected = accuracy_score(truth[part], [said[i] for i in ids[part]])
        assert metrics["accuracy"] == expected
        assert metrics["labelled"] == 50
    assert [a["rule"] for a in done["fired"]] == ["error_rate > 0.05"]

    metrics = http.call(f"{server.url}/metrics").body.decode()
    assert 'prodml_alert_firing{endpoint="breast-cancer",rule="error_rate > 0.05"} 1.0' in metrics
    drift_lines = [line for line in metrics.splitlines() if line.startswith("prodml_drift_score{")]
    assert len(drift_lines) >= 30  # a score per feature, plus the outputs
    assert 'prodml_drift_share{endpoint="breast-cancer"}' in metrics
    # every answer the model's own: nothing deferred, nothing waiting for a person
    assert 'prodml_automation{endpoint="breast-cancer",metric="deferred_share"} 0.0' in metrics
    assert 'prodml_review_queue_items{endpoint="breast-cancer"} 0.0' in metrics
    assert second["metrics"]["automatic_accuracy"] == second["metrics"]["accuracy"]

    listed = prodml_cli(project, "alerts", "list", "--json")
    assert [a["rule"] for a in json.loads(listed.stdout)] == ["error_rate > 0.05"]
    page = tmp_path / "monitor.html"
    reported = prodml_cli(project, "monitor", "report", "--html", str(page))
    assert reported.returncode == 0, reported.stderr
    assert "Monitoring of breast-cancer" in page.read_text()


def test_monitor_of_an_unknown_endpoint_names_the_known_ones(tmp_path: Path) -> None:
    project = prodml.init(tmp_path / "bc", example="breast-cancer")
    ran = prodml_cli(project, "monitor", "--endpoint", "breast-cancr")
    assert ran.returncode == 1
    assert "endpoint 'breast-cancr' has no deployment and no logged predictions" in ran.stderr


def test_a_run_served_with_run_is_compared_with_that_run(
    tmp_path: Path, launch: Launch, http: Http
) -> None:
    """``prodml serve --run`` logs version 0 and the run: its windows are compared with
    that run's reference, not with the newest fit's. Run B is fitted on data whose
    mean_radius is three times larger; the same rows served by A and then by B drift
    from B's reference only."""
    project = prodml.init(tmp_path / "bc", example="breast-cancer")
    settings = yaml.safe_load((project / "prodml.yaml").read_text())
    settings["monitor"] = {"window": 100}
    (project / "prodml.yaml").write_text(yaml.safe_dump(settings))
    file = project / settings["data"]["source"]
    original = pd.read_csv(file)
    with prodml.Project(project) as opened:
        first = opened.fit()
        rows = opened.load_data().X.sample(100, random_state=0)
    original.assign(mean_radius=original["mean_radius"] * 3).to_csv(file, index=False)
    with prodml.Project(project) as opened:
        newest = opened.fit()
    for run in (first, newest):
        server = launch(project, "--run", run.id)
        for record in http.records(rows):
            assert http.post(f"{server.url}/predict", {"records": [record]}).status == 200
        server.stop()
        said = " ".join("".join(server.output).split())
        assert f"warning: this run was never evaluated (run {run.id}); serving it anyway" in said
    with prodml.Project(project) as opened:
        done = opened.monitor()
        scores = opened.monitoring.scores()
    assert [(w.model_version, w.run_id, w.rows) for w in done.windows] == [
        (0, first.id, 100),
        (0, newest.id, 100),
    ]
    radius = {
        s.window_id: s.drifted for s in scores if s.kind == "drift" and s.column == "mean_radius"
    }
    assert [radius[w.id] for w in done.windows] == [False, True]
