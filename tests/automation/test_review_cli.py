"""``prodml review`` on a real project store: list, next (a lease), answer (checked
against the model's classes, stored as feedback), and the round trip through Label
Studio's task and export formats."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest
from typer.testing import CliRunner

import prodml
from prodml.automation.label_studio import answers, labeling_config, to_tasks
from prodml.cli import app
from prodml.errors import DataError
from prodml.serve.prediction_log import PredictionLog, entry
from prodml.store.review import NewItem

ENDPOINT = "breast-cancer"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose log holds three predictions of classes 0 and 1, each queued for
    review (the least confident first)."""
    folder = tmp_path / "bc"
    prodml.init(folder, example="breast-cancer")
    ids = [uuid4().hex for _ in range(3)]
    with prodml.Project(folder) as opened:
        log = PredictionLog(opened.runs_store.database)
        answer = {"label": 1, "probabilities": {"0": 0.4, "1": 0.6}}
        rows = [
            entry(rid, ENDPOINT, ENDPOINT, 1, {"radius": 10.0 + i}, answer, 0.001, classes=[0, 1])
            for i, rid in enumerate(ids)
        ]
        log.write(rows).result()
        log.close()
        opened.review_queue.add(
            [
                NewItem(
                    rid,
                    ENDPOINT,
                    {"radius": 10.0 + i},
                    "low_confidence",
                    {"label": 1, "confidence": 0.6 - i / 10},
                    model_version=1,
                    priority=float(i),
                )
                for i, rid in enumerate(ids)
            ]
        )
    return folder


def run(folder: Path, *arguments: str) -> str:
    result = CliRunner().invoke(app, [*arguments, "--project", str(folder)])
    assert result.exit_code == 0, result.output
    return result.output


def test_next_leases_the_top_item_and_an_answer_becomes_its_feedback(project: Path) -> None:
    listed = json.loads(run(project, "review", "list", "--json"))
    assert [i["priority"] for i in listed] == [2.0, 1.0, 0.0]

    taken = json.loads(run(project, "review", "next", "--as", "ana", "--json"))
    assert taken["request_id"] == listed[0]["request_id"] and taken["leased_by"] == "ana"
    other = json.loads(run(project, "review", "next", "--as", "ben", "--json"))
    assert other["request_id"] == listed[1]["request_id"]  # never ana's

    out = run(project, "review", "answer", taken["request_id"], "0", "--as", "ana")
    assert "(1/1, done: stored as feedback)" in out
    with prodml.Project(project) as opened:
        assert opened.monitoring.labels([taken["request_id"]]) == {taken["request_id"]: 0}


def test_answering_with_no_class_or_without_the_lease_is_one_line_and_exit_1(
    project: Path,
) -> None:
    taken = json.loads(run(project, "review", "next", "--as", "ana", "--json"))
    runner = CliRunner()
    wrong = runner.invoke(
        app,
        ["review", "answer", taken["request_id"], "2", "--as", "ana", "--project", str(project)],
    )
    assert (
        wrong.exit_code == 1
        and "label '2' is not a class of this model; give one of 0, 1" in wrong.output
    )
    stolen = runner.invoke(
        app,
        ["review", "answer", taken["request_id"], "1", "--as", "ben", "--project", str(project)],
    )
    assert stolen.exit_code == 1 and "is leased to ana, not to ben" in stolen.output
    assert "Traceback" not in wrong.output + stolen.output


def test_exported_tasks_annotated_in_label_studio_come_back_as_answers(
    project: Path, tmp_path: Path
) -> None:
    out = run(project, "review", "export", str(tmp_path / "tasks.json"))
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert "Wrote 3 tasks" in out and '<Choice value="0"/>' in out
    assert {t["data"]["request_id"] for t in tasks} == {
        i["request_id"] for i in json.loads(run(project, "review", "list", "--json"))
    }
    assert tasks[0]["predictions"][0]["result"][0]["value"] == {"choices": ["1"]}
    # what Label Studio exports once two people annotated (one cancelled) the first task
    done = [
        {
            **tasks[0],
            "annotations": [
                {"completed_by": 3, "was_cancelled": False, "result": [_choice("0")]},
                {"completed_by": 4, "was_cancelled": True, "result": [_choice("1")]},
            ],
        }
    ]
    (tmp_path / "export.json").write_text(json.dumps(done))

    out = run(project, "review", "import", str(tmp_path / "export.json"))
    again = run(project, "review", "import", str(tmp_path / "export.json"))

    assert "Stored 1 answers; skipped 0" in out and "Stored 0 answers; skipped 1" in again
    request_id = tasks[0]["data"]["request_id"]
    with prodml.Project(project) as opened:
        assert opened.monitoring.labels([request_id]) == {request_id: 0}
        assert opened.review_queue.answers(request_id)[0]["reviewer"] == "label-studio:3"


def test_label_studio_formats_are_checked_and_the_config_lists_each_class() -> None:
    with pytest.raises(DataError, match="a Label Studio export is a JSON list of tasks"):
        answers({"tasks": []})
    with pytest.raises(DataError, match=r"task 0 has no data\.request_id"):
        answers([{"data": {}, "annotations": []}])
    assert to_tasks([{"request_id": "r", "inputs": {"x": 1}, "suggestion": None}]) == [
        {"data": {"x": 1, "request_id": "r"}}
    ]
    config = labeling_config(["no", 'say "yes"'], ["x"])
    assert '<Choice value="no"/>' in config and "<Choice value='say \"yes\"'/>" in config


def _choice(label: str) -> dict[str, object]:
    return {
        "from_name": "label",
        "to_name": "inputs",
        "type": "choices",
        "value": {"choices": [label]},
    }
