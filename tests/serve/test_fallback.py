"""The fallback rule and the breaker, on a real server whose model fails on purpose: the
served model is a rule that raises on a row whose ``mean_radius`` is negative (a marker no
real row has). Such a row is answered by ``serve.fallback`` (the answer, the log and the
review queue say ``fallback``); three failures in a row open the breaker (an event, and
``/metrics``), so that even good rows get the rule, until a probe a second later succeeds
and closes it (an event). The expected answers are the two rules applied here."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
import yaml

import prodml
from prodml.store.review import ReviewQueue

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Launch, Refused, Server, Switch

FLAKY = """import numpy as np


def diagnose(X):
    if (X["mean_radius"] < 0).any():
        raise ValueError("a marked row")
    return np.where(X["mean_radius"] > 15, "malignant", "benign")
"""
RULES = """import numpy as np


def by_texture(X):
    return np.where(X["mean_texture"] > 20, "malignant", "benign")
"""
FAILURES = 3
PROBE_AFTER = 1.0
#: seconds an event written off the event loop may take to reach the store
EVENT_SLACK = 10.0


def by_texture(row: dict[str, Any]) -> str:
    return "malignant" if row["mean_texture"] > 20 else "benign"


def diagnose(row: dict[str, Any]) -> str:
    return "malignant" if row["mean_radius"] > 15 else "benign"


def with_serve(folder: Path, serve: dict[str, Any]) -> None:
    file = folder / "prodml.yaml"
    settings = yaml.safe_load(file.read_text(encoding="utf-8"))
    file.write_text(yaml.safe_dump({**settings, "serve": serve}), encoding="utf-8")


@pytest.fixture
def flaky(registered_project: Path, tmp_path: Path, switch: Switch) -> tuple[Path, list[Any]]:
    """A project whose breast-cancer primary (version 2) is the failing rule, with a
    fallback and a breaker; some of its rows, as records."""
    folder = Path(shutil.copytree(registered_project, tmp_path / "bc"))
    (folder / "flaky.py").write_text(FLAKY, encoding="utf-8")
    (folder / "rules.py").write_text(RULES, encoding="utf-8")
    with prodml.Project(folder) as project:
        run = project.fit(prodml.ModelSpec(factory="rules:flaky.py:diagnose"))
        project.register(run.id)
        switch(project, 2)
        frame: pd.DataFrame = project.load_data().X
    with_serve(
        folder,
        {
            "fallback": "rules:rules.py:by_texture",
            "breaker": {"failures": FAILURES, "probe_after": PROBE_AFTER},
        },
    )
    # rows on which the two rules disagree, so an answer says which one gave it
    disagree = frame[
        np.where(frame["mean_radius"] > 15, 1, 0) != np.where(frame["mean_texture"] > 20, 1, 0)
    ]
    return folder, json.loads(disagree.head(8).to_json(orient="records"))


def marked(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "mean_radius": -1.0}


def ask(http: Http, server: Server, row: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(f"{server.url}/predict", {"records": [row]})
    assert answer.status == 200, answer.body
    prediction: dict[str, Any] = answer.json()["predictions"][0]
    return prediction


def breaker_gauge(http: Http, server: Server) -> float:
    text = http.call(f"{server.url}/metrics").body.decode()
    line = next(x for x in text.splitlines() if x.startswith("prodml_breaker_open{"))
    return float(line.rsplit(" ", 1)[1])


def wait_for_events(folder: Path, actions: list[str]) -> list[Any]:
    began = time.monotonic()
    while True:
        with prodml.Project(folder) as project:
            events = [
                e for e in project.registry.events("breast-cancer") if e.action in set(actions)
            ]
        if sorted(e.action for e in events) == sorted(actions):
            return events
        assert time.monotonic() - began < EVENT_SLACK, [e.action for e in events]
        time.sleep(0.1)


def test_failing_rows_get_the_rule_and_the_breaker_opens_and_closes(
    flaky: tuple[Path, list[Any]], launch: Launch, http: Http
) -> None:
    folder, rows = flaky
    server = launch(folder)
    assert breaker_gauge(http, server) == 0.0

    # failures apart (a success between them) answer by the rule, the breaker stays shut
    sent = [rows[0], marked(rows[1]), rows[2], marked(rows[3]), rows[4]]
    answers = [ask(http, server, row) for row in sent]
    wanted = ["model", "fallback", "model", "fallback", "model"]
    assert [a["decided_by"] for a in answers] == wanted
    assert [a["status"] for a in answers] == ["decided"] * 5
    expected = [
        diagnose(row) if who == "model" else by_texture(row)
        for row, who in zip(sent, wanted, strict=True)
    ]
    assert [a["label"] for a in answers] == expected
    assert breaker_gauge(http, server) == 0.0

    # the third failure in a row opens it: a good row then gets the rule too
    opening = [ask(http, server, marked(row)) for row in rows[5:8]]
    assert [a["decided_by"] for a in opening] == ["fallback"] * FAILURES
    opened = wait_for_events(folder, ["breaker-open"])
    assert opened[0].version == 2
    assert opened[0].detail == {
        "failures": FAILURES,
        "in_a_row": FAILURES,
        "probe_after": PROBE_AFTER,
    }
    assert breaker_gauge(http, server) == 1.0
    meanwhile = ask(http, server, rows[0])
    assert (meanwhile["decided_by"], meanwhile["label"]) == ("fallback", by_texture(rows[0]))

    # after probe_after a good row probes the model and closes it
    time.sleep(PROBE_AFTER + 0.2)
    probe = ask(http, server, rows[2])
    assert (probe["decided_by"], probe["label"]) == ("model", diagnose(rows[2]))
    wait_for_events(folder, ["breaker-open", "breaker-closed"])
    assert breaker_gauge(http, server) == 0.0
    after = ask(http, server, rows[0])
    assert (after["decided_by"], after["label"]) == ("model", diagnose(rows[0]))

    answered = [*answers, *opening, meanwhile, probe, after]
    by_rule = {a["request_id"] for a in answered if a["decided_by"] == "fallback"}
    assert len(by_rule) == 2 + FAILURES + 1
    server.stop()
    with prodml.Project(folder) as project:
        items = ReviewQueue(project.runs_store.database).items(open_only=False, limit=1000)
        logged = {row["request_id"]: row for row in project.prediction_log(limit=1000)}
    assert {i.request_id for i in items if i.reason == "fallback"} == by_rule
    assert all(i.model_version == 2 for i in items if i.reason == "fallback")
    for answer in answered:
        assert logged[answer["request_id"]]["decided_by"] == answer["decided_by"]


def test_without_a_fallback_a_failing_row_answers_500(
    flaky: tuple[Path, list[Any]], launch: Launch, http: Http
) -> None:
    folder, rows = flaky
    with_serve(folder, {})
    server = launch(folder)
    failed = http.post(f"{server.url}/predict", {"records": [marked(rows[0])]})
    assert failed.status == 500
    assert "failed on this input (ValueError)" in failed.json()["error"]
    assert ask(http, server, rows[0])["decided_by"] == "model"


@pytest.mark.parametrize(
    ("fallback", "said"),
    [
        ("rules.py:by_texture", "serve.fallback is 'rules.py:by_texture'; give a rule as"),
        ("rules:rules.py:by_colour", "serve.fallback 'rules:rules.py:by_colour' cannot answer"),
    ],
)
def test_a_fallback_that_cannot_answer_stops_the_server_from_starting(
    flaky: tuple[Path, list[Any]], refused: Refused, fallback: str, said: str
) -> None:
    folder, _ = flaky
    with_serve(folder, {"fallback": fallback})
    lines = refused(folder)
    assert len(lines) == 1 and said in lines[0], lines


def test_a_call_slower_than_timeout_ms_keeps_its_answer_and_counts_as_a_failure(
    flaky: tuple[Path, list[Any]], launch: Launch, http: Http
) -> None:
    folder, rows = flaky
    # every call takes more than a microsecond: each is a failure for the breaker
    with_serve(
        folder,
        {
            "fallback": "rules:rules.py:by_texture",
            "timeout_ms": 0.001,
            "breaker": {"failures": 2, "probe_after": 60},
        },
    )
    server = launch(folder)
    slow = [ask(http, server, row) for row in rows[:2]]
    assert [(a["decided_by"], a["label"]) for a in slow] == [
        ("model", diagnose(row)) for row in rows[:2]
    ]
    wait_for_events(folder, ["breaker-open"])
    spared = ask(http, server, rows[2])
    assert (spared["decided_by"], spared["label"]) == ("fallback", by_texture(rows[2]))


def test_an_endpoint_whose_model_never_loaded_gets_the_rule_until_it_loads(
    registered_project: Path, tmp_path: Path, launch: Launch, http: Http
) -> None:
    """The model file of version 1 is spoiled before the server starts: the rule answers
    in its place (checked against the version's schema, marked ``fallback``, queued),
    /health/ready says degraded with the reason; once the file is restored, the model
    answers."""
    folder = Path(shutil.copytree(registered_project, tmp_path / "bc"))
    (folder / "rules.py").write_text(RULES, encoding="utf-8")
    with_serve(folder, {"fallback": "rules:rules.py:by_texture"})
    with prodml.Project(folder) as project:
        run_id = project.registry.get("breast-cancer:1").run_id
        frame: pd.DataFrame = project.load_data().X
        model = project.load_model(run_id)
    rows = json.loads(frame.head(6).to_json(orient="records"))
    file = folder / ".prodml" / "artifacts" / run_id / "model.skops"
    good = file.read_bytes()
    file.write_bytes(good + b"\0")
    server = launch(folder)

    ready = http.call(f"{server.url}/health/ready")
    assert ready.status == 200 and ready.json()["status"] == "degraded", ready.body
    assert "was changed after it was saved" in ready.json()["errors"]["breast-cancer"]
    ruled = [ask(http, server, row) for row in rows]
    assert [a["decided_by"] for a in ruled] == ["fallback"] * len(rows)
    assert [a["label"] for a in ruled] == [by_texture(row) for row in rows]
    wrong = http.post(f"{server.url}/predict", {"records": [{"mean_radius": "big"}]})
    assert wrong.status == 422  # the version's schema still checks the rows

    file.write_bytes(good)
    deadline = time.monotonic() + 30
    while http.call(f"{server.url}/health/ready").json()["status"] != "ready":
        assert time.monotonic() < deadline, "the restored model never loaded"
        time.sleep(0.2)
    answered = [ask(http, server, row) for row in rows]
    assert [a["decided_by"] for a in answered] == ["model"] * len(rows)
    assert [a["label"] for a in answered] == model.predict(frame.head(6)).tolist()
    server.stop()
    with prodml.Project(folder) as project:
        items = project.review_queue.items(open_only=False, limit=100)
        logged = {row["request_id"]: row for row in project.prediction_log(limit=100)}
    assert {i.request_id for i in items} == {a["request_id"] for a in ruled}
    assert {i.reason for i in items} == {"fallback"}
    for answer in [*ruled, *answered]:
        assert logged[answer["request_id"]]["decided_by"] == answer["decided_by"]


def test_a_shadow_failing_on_a_copy_leaves_the_answer_and_the_breaker_alone(
    registered_project: Path, tmp_path: Path, launch: Launch, http: Http
) -> None:
    """The failing rule as a shadow beside the logistic regression: a marked row is
    answered by the primary (the model, not the fallback), the shadow's failure is counted
    as its error (protocol shadow, its version), and its failures open no breaker."""
    folder = Path(shutil.copytree(registered_project, tmp_path / "bc"))
    (folder / "flaky.py").write_text(FLAKY, encoding="utf-8")
    (folder / "rules.py").write_text(RULES, encoding="utf-8")
    with prodml.Project(folder) as project:
        project.register(project.fit(prodml.ModelSpec(factory="rules:flaky.py:diagnose")).id)
        project.deployer().deploy("breast-cancer:2", "shadow", force=True, reason="a test")
        frame: pd.DataFrame = project.load_data().X
        model = project.load_model(project.registry.get("breast-cancer:1").run_id)
    with_serve(
        folder,
        {"fallback": "rules:rules.py:by_texture", "breaker": {"failures": 1, "probe_after": 60}},
    )
    server = launch(folder)
    rows = [marked(row) for row in json.loads(frame.head(FAILURES).to_json(orient="records"))]
    answers = [ask(http, server, row) for row in rows]
    expected = model.predict(pd.DataFrame(rows)[frame.columns]).tolist()
    assert [(a["decided_by"], a["label"]) for a in answers] == [
        ("model", label) for label in expected
    ]
    deadline = time.monotonic() + EVENT_SLACK
    while True:
        with prodml.Project(folder) as project:
            errors = project.shadow_comparison("breast-cancer").candidate.errors
        if errors == FAILURES or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert errors == FAILURES
    assert breaker_gauge(http, server) == 0.0
    assert [a["decided_by"] for a in [ask(http, server, r) for r in rows]] == ["model"] * FAILURES
    server.stop()
    with prodml.Project(folder) as project:
        actions = {e.action for e in project.registry.events("breast-cancer")}
        primary_errors = project.shadow_comparison("breast-cancer").primary.errors
    assert "breaker-open" not in actions and primary_errors == 0
