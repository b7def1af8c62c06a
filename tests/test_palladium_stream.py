"""``prodml predict -`` (Palladium's ``stream``): JSON lines in on stdin, one answer line out
for each, checked as the server checks rows and logged before the answer is written."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import prodml
from prodml.cli import app

runner = CliRunner()

pytestmark = pytest.mark.usefixtures("default_store")


@pytest.fixture(scope="module")
def loans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loans example, fitted, evaluated and registered as loans:1 (its primary)."""
    folder = prodml.init(tmp_path_factory.mktemp("stream") / "loans", example="loans")
    with prodml.Project(folder) as project:
        run = project.fit()
        project.evaluate(run.id)
        project.register(run.id)
    return folder


def records(project: Path, count: int) -> list[dict[str, Any]]:
    """Rows of the loans data as a client sends them: the inputs and the metadata."""
    with prodml.Project(project) as opened:
        names = [c["name"] for c in (opened.registry.get("loans").input_schema or {})["columns"]]
    frame = pd.read_parquet(project / "data" / "loans.parquet")[[*names, "gender", "region"]]
    sent: list[dict[str, Any]] = json.loads(frame.head(count).to_json(orient="records"))
    return sent


def labels(project: Path, sent: list[dict[str, Any]]) -> list[Any]:
    with prodml.Project(project) as opened:
        version = opened.registry.get("loans")
        model = opened.registry.load(version)
        schema = (version.input_schema or {})["columns"]
    frame = pd.DataFrame(sent)[[c["name"] for c in schema]]
    for column in schema:
        if column["kind"] == "category":
            frame[column["name"]] = pd.Categorical(
                frame[column["name"]], sorted(column["categories"])
            )
    found: list[Any] = model.predict(frame).tolist()
    return found


def test_each_line_gets_its_answer_in_order_and_its_rows_are_logged(loans: Path) -> None:
    sent = records(loans, 5)
    lines = [json.dumps(record) for record in sent[:3]] + ["", json.dumps(sent[3:])]
    result = runner.invoke(app, ["predict", "-", "-C", str(loans)], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == 4  # the blank line is skipped; the list is answered by a list
    batch = answers.pop()
    assert isinstance(batch, list) and len(batch) == 2
    answered = [*answers, *batch]
    assert [a["label"] for a in answered] == labels(loans, sent)
    for answer in answered:
        assert answer["model"] == "loans:1"
        assert sorted(answer["probabilities"]) == ["0", "1"]
    with prodml.Project(loans) as opened:
        logged = {row["request_id"]: row for row in opened.prediction_log(limit=20)}
    for answer, record in zip(answered, sent, strict=True):
        row = logged[answer["request_id"]]
        assert (row["endpoint"], row["model"], row["label"]) == (
            "loans",
            "loans:1",
            answer["label"],
        )
        assert row["inputs"]["gender"] == record["gender"]  # metadata logged beside inputs
        assert row["inputs"]["income"] == record["income"]


def test_a_refused_line_is_answered_by_its_error_and_the_stream_goes_on(loans: Path) -> None:
    good = records(loans, 1)[0]
    lines = [
        json.dumps(good),
        json.dumps({**good, "purpose": "vacation"}),
        "{not json",
        json.dumps(good),
    ]
    result = runner.invoke(app, ["predict", "-", "-C", str(loans)], input="\n".join(lines))
    assert result.exit_code == 1
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [sorted(a) for a in answers[1:3]] == [["error", "field", "line"]] * 2
    assert answers[1]["field"] == "purpose" and answers[1]["line"] == 2
    assert answers[1]["error"].startswith(
        "row 0, field 'purpose': 'vacation' was never seen in training; known values are: "
    )
    assert answers[2]["line"] == 3 and answers[2]["error"].startswith("the body is not valid JSON")
    assert answers[0]["label"] == answers[3]["label"]
    lines_out = result.stderr.splitlines()
    assert len(lines_out) == 1
    assert " ".join(lines_out[0].split()).startswith(
        "error: 2 of 4 lines were refused, each answered by its error (the first, line 2: "
        "row 0, field 'purpose': 'vacation' was never seen in training"
    )


def test_a_records_data_time_is_logged_as_its_event_time(loans: Path) -> None:
    sent = records(loans, 3)
    times = ["2024-03-01T08:00:00Z", "2024-03-01T10:30:00+01:00", None]
    for record, moment in zip(sent, times, strict=True):
        if moment is not None:
            record["applied_at"] = moment  # the loans example's data.time
    bad = {**sent[0], "applied_at": "yesterday"}
    lines = [json.dumps(r) for r in [*sent, bad]]
    result = runner.invoke(app, ["predict", "-", "-C", str(loans)], input="\n".join(lines))
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert answers[3]["field"] == "applied_at"
    assert answers[3]["error"].startswith("row 0, field 'applied_at': 'yesterday' is not an ISO")
    ids = [a["request_id"] for a in answers[:3]]
    with contextlib.closing(sqlite3.connect(loans / ".prodml" / "prodml.db")) as db:
        event = dict(db.execute("select request_id, event_us from predictions"))
    expected = [
        None if m is None else round(pd.Timestamp(m).timestamp() * 1_000_000) for m in times
    ]
    assert [event[i] for i in ids] == expected


def test_serve_unseen_predict_answers_an_unseen_category_as_the_server_does(
    loans: Path, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(loans, tmp_path / "loans"))
    settings = yaml.safe_load((folder / "prodml.yaml").read_text())
    settings["serve"] = {"unseen": "predict"}
    (folder / "prodml.yaml").write_text(yaml.safe_dump(settings))
    record = {**records(folder, 1)[0], "purpose": "vacation"}
    result = runner.invoke(app, ["predict", "-", "-C", str(folder)], input=json.dumps(record))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["label"] in (0, 1)


def test_a_file_without_an_output_says_where_the_scores_go(loans: Path) -> None:
    result = runner.invoke(app, ["predict", "new.csv", "-C", str(loans)])
    assert result.exit_code == 1
    assert " ".join(result.stderr.split()) == (
        "error: prodml predict new.csv needs --output (-o): where to write the scores, a .csv "
        "or .parquet file; or give - to answer JSON lines from stdin"
    )


def test_predict_help_teaches_the_stream() -> None:
    result = runner.invoke(app, ["predict", "--help"])
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "or - to answer JSON lines from stdin" in text
    assert "tail -f requests.jsonl | prodml predict - > answers.jsonl" in text
