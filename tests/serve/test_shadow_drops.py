"""A shadow whose queue is too small for the copies it is sent, on a real server: every
dropped row is counted on ``/metrics`` and written to the endpoint's deployment events, the
first drop at once and the rest at most once a minute, and once the server stops the
events add up to the counter; ``prodml deployments NAME`` lists them. A store that cannot
take the event fails no request."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import prodml
from prodml.registry import DeploymentEvent
from prodml.serve.launch import Launch, build_app
from prodml.serve.options import ServeOptions
from prodml.serve.shadow_drops import ACTION

if TYPE_CHECKING:
    from tests.serve.conftest import Http, InThread

PRODML = Path(sys.executable).parent / "prodml"
REQUESTS = 25
ROWS = 2  # rows a request: its copy is over a shadow queue of one row, so always dropped


@pytest.fixture
def shadowed(registered_project: Path, tmp_path: Path) -> Path:
    """The registered breast-cancer project with a dummy version 2 as its shadow, seeing
    every request."""
    folder = Path(shutil.copytree(registered_project, tmp_path / "bc"))
    with prodml.Project(folder) as project:
        project.register(project.fit(prodml.ModelSpec(factory="sklearn.dummy.DummyClassifier")).id)
        project.deployer("tests").deploy("breast-cancer:2", "shadow", force=True, reason="t")
    return folder


def app(folder: Path) -> Any:
    """``prodml serve``'s app of ``folder``, with a shadow queue of one row."""
    options = ServeOptions(shadow_queue=1, freeze_gc=False)
    return build_app(Launch(str(folder), "", options, os.getpid()))


def body(folder: Path) -> bytes:
    with prodml.Project(folder) as project:
        rows = json.loads(project.load_data().X.iloc[:ROWS].to_json(orient="records"))
    return json.dumps({"records": rows}).encode()


def drops(folder: Path) -> list[DeploymentEvent]:
    with prodml.Project(folder) as project:
        return [e for e in project.registry.events("breast-cancer") if e.action == ACTION]


def dropped_rows(http: Http, url: str) -> float:
    """prodml_shadow_dropped_rows of the endpoint, as /metrics says."""
    text = http.call(f"{url}/metrics").body.decode()
    found = re.search(
        r'^prodml_shadow_dropped_rows_total\{endpoint="breast-cancer"\} (\S+)$', text, re.M
    )
    assert found is not None, text
    return float(found[1])


def test_dropped_copies_are_deployment_events_that_add_up_to_the_counter(
    http: Http, in_thread: InThread, shadowed: Path
) -> None:
    sent = body(shadowed)
    with in_thread(app(shadowed)) as url:
        for _ in range(REQUESTS):
            answer = http.call(f"{url}/predict", "POST", sent)
            assert answer.status == 200, answer.body
        deadline = time.monotonic() + 10
        while not drops(shadowed):  # written on a thread, after the answer
            assert time.monotonic() < deadline, "no shadow-dropped event"
            time.sleep(0.05)
        counted = dropped_rows(http, url)
        first = drops(shadowed)
        # the first drop at once; the others wait for the minute to pass
        assert [(e.version, e.detail) for e in first] == [(2, {"rows": ROWS, "queue": 1})]
    assert counted == REQUESTS * ROWS

    events = drops(shadowed)  # the server stopped: what waited is written

    assert [(e.version, e.detail) for e in events] == [
        (2, {"rows": ROWS, "queue": 1}),
        (2, {"rows": counted - ROWS, "queue": 1}),
    ]
    assert all(e.reason and "shadow_queue" in e.reason for e in events)
    assert events[0].actor is not None and events[0].actor.startswith("server ")
    shown = subprocess.run(
        [str(PRODML), "deployments", "breast-cancer", "--json"],
        cwd=shadowed,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    (listed,) = json.loads(shown.stdout)
    said = [e["detail"]["rows"] for e in listed["events"] if e["action"] == ACTION]
    assert said == [ROWS, counted - ROWS]


def test_a_store_that_cannot_take_the_event_fails_no_request(
    http: Http, in_thread: InThread, shadowed: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with sqlite3.connect(shadowed / ".prodml" / "prodml.db") as db:
        db.execute("alter table deployment_events rename to events_elsewhere")
    sent = body(shadowed)
    with in_thread(app(shadowed)) as url:
        answers = [http.call(f"{url}/predict", "POST", sent).status for _ in range(REQUESTS)]
        assert dropped_rows(http, url) == REQUESTS * ROWS
    assert answers == [200] * REQUESTS
    said = [r.getMessage() for r in caplog.records if "could not be written" in r.getMessage()]
    assert said and said[0].startswith(
        f"endpoint breast-cancer: {ROWS} rows its shadow (version 2) dropped could not be "
        "written to its deployment events (OperationalError: "
    )
