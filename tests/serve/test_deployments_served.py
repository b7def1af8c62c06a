"""Deployments on a real server: changes made over the admin routes with an operator key,
a canary answering the sticky keys below its share, a shadow predicting copies logged under
the same request ids, and a rollback that loads nothing."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

import prodml
from prodml.deploy.keys import Keys, Role
from prodml.serve.routing import point

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Launch, Server


@pytest.fixture
def two_versions(registered_project: Path, tmp_path: Path) -> Path:
    """The registered breast-cancer project (version 1, the primary) with version 2, a
    never evaluated dummy, registered: a copy this test may change."""
    folder = Path(shutil.copytree(registered_project, tmp_path / "bc"))
    with prodml.Project(folder) as project:
        run = project.fit(prodml.ModelSpec(factory="sklearn.dummy.DummyClassifier"))
        project.register(run.id)
    return folder


def key(folder: Path, name: str, role: Role) -> dict[str, str]:
    with prodml.Project(folder) as project:
        _, secret = Keys(project.runs_store.database).create(name, role)
    return {"Authorization": f"Bearer {secret}"}


def admin(
    http: Http, server: Server, action: str, body: dict[str, Any], auth: dict[str, str]
) -> Any:
    import json

    return http.call(
        f"{server.url}/admin/{action}", "POST", json.dumps(body).encode(), headers=auth
    )


def records(folder: Path) -> list[dict[str, Any]]:
    frame = pd.read_csv(folder / "data" / "breast_cancer.csv").drop(
        columns=["patient_id", "diagnosis"]
    )
    return [{str(k): v for k, v in row.items()} for row in frame.head(1).to_dict(orient="records")]


def wait_for(server: Server, http: Http, version: str, role: str, headers: dict[str, str]) -> None:
    """Until a request with ``headers`` is answered by ``version`` in ``role`` (the server
    looks at the store every second)."""
    import json

    body = json.dumps({"records": records(server.project)}).encode()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        answer = http.call(f"{server.url}/predict", "POST", body, headers=headers)
        if (answer.headers.get("x-prodml-model"), answer.headers.get("x-prodml-role")) == (
            version,
            role,
        ):
            return
        time.sleep(0.2)
    raise AssertionError(f"not answered by {version} as {role}: {answer.headers}")


def model_loads(http: Http, server: Server) -> float:
    """How many model versions the server has loaded, as its /metrics says."""
    text = http.call(f"{server.url}/metrics").body.decode()
    line = next(x for x in text.splitlines() if x.startswith("prodml_model_loads_total{"))
    return float(line.split()[-1])


def logged(folder: Path) -> list[tuple[str, int, str]]:
    """(request id, version, role) of every logged prediction."""
    with sqlite3.connect(folder / ".prodml" / "prodml.db") as db:
        return db.execute(
            "select p.request_id, s.model_version, s.role from predictions p "
            "join log_streams s on s.id = p.stream_id order by p.id"
        ).fetchall()


def test_a_canary_answers_the_keys_below_its_share_and_every_row_names_its_role(
    two_versions: Path, launch: Launch, http: Http
) -> None:
    operator = key(two_versions, "ops", "operator")
    server = launch(two_versions)

    deployed = admin(
        http,
        server,
        "deploy",
        {
            "ref": "breast-cancer:2",
            "mode": "canary",
            "ramp": [30, 100],
            "force": True,
            "reason": "try",
        },
        operator,
    )
    assert deployed.status == 200, deployed.body
    assert deployed.json()["candidate"]["share"] == 30.0
    low = next(f"user-{i}" for i in range(1000) if point(f"user-{i}") < 30)
    high = next(f"user-{i}" for i in range(1000) if point(f"user-{i}") >= 30)
    wait_for(server, http, "breast-cancer:2", "canary", {"X-Prodml-Key": low})
    wait_for(server, http, "breast-cancer:1", "primary", {"X-Prodml-Key": high})

    with prodml.Project(two_versions) as project:
        change = project.registry.events("breast-cancer")[-1]
    assert (change.action, change.actor, change.reason) == ("canary", "ops", "try")
    roles = {(version, role) for _, version, role in logged(two_versions)}
    assert roles == {(1, "primary"), (2, "canary")}


def test_a_shadow_predicts_a_copy_under_the_same_request_id_and_rollback_loads_nothing(
    two_versions: Path, launch: Launch, http: Http
) -> None:
    import json

    operator = key(two_versions, "ops", "operator")
    server = launch(two_versions)
    assert (
        admin(
            http,
            server,
            "deploy",
            {"ref": "breast-cancer:2", "mode": "shadow", "force": True, "reason": "t"},
            operator,
        ).status
        == 200
    )
    wait_for(server, http, "breast-cancer:1", "primary", {})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(
        role == "shadow" for *_, role in logged(two_versions)
    ):
        body = json.dumps({"records": records(two_versions)}).encode()
        http.call(f"{server.url}/predict", "POST", body)
        time.sleep(0.2)

    rows = logged(two_versions)
    shadowed = {rid for rid, _, role in rows if role == "shadow"}
    answered = {rid for rid, _, role in rows if role == "primary"}
    assert shadowed and shadowed <= answered  # a copy of each answered request it saw
    assert {v for _, v, role in rows if role == "shadow"} == {2}

    assert (
        admin(
            http,
            server,
            "promote",
            {"endpoint": "breast-cancer", "force": True, "reason": "t"},
            operator,
        ).status
        == 200
    )
    wait_for(server, http, "breast-cancer:2", "primary", {})
    loads = model_loads(http, server)
    assert admin(http, server, "rollback", {"endpoint": "breast-cancer"}, operator).status == 200
    wait_for(server, http, "breast-cancer:1", "primary", {})
    assert loads == model_loads(http, server) == 2.0  # each version once: rollback loaded none
    server.stop()
    assert "Traceback" not in "".join(server.output)


def test_admin_mistakes_are_4xx_with_the_line_the_command_line_prints(
    two_versions: Path, launch: Launch, http: Http
) -> None:
    operator = key(two_versions, "ops", "operator")
    viewer = key(two_versions, "watcher", "viewer")
    server = launch(two_versions)

    cases: list[tuple[str, dict[str, Any], dict[str, str], int, str]] = [
        ("deploy", {"ref": "breast-cancer:9", "mode": "canary"}, operator, 404, "has no version 9"),
        (
            "deploy",
            {"ref": "breast-cancer:2", "mode": "dark"},
            operator,
            422,
            "mode is 'dark'; give shadow or canary or blue-green",
        ),
        (
            "deploy",
            {"ref": "breast-cancer:2", "mode": "canary", "ramp": [5, 1]},
            operator,
            422,
            "must increase and end at 100",
        ),
        (
            "deploy",
            {"ref": "breast-cancer:2", "mode": "canary"},
            operator,
            409,
            "cannot deploy breast-cancer:2 was never evaluated",
        ),
        ("promote", {"endpoint": "breast-cancer"}, operator, 409, "has no candidate to promote"),
        (
            "promote",
            {"endpoint": "breast-cancer", "color": 1},
            operator,
            422,
            "unknown key 'color'",
        ),
        ("stop", {}, operator, 422, 'stop needs "endpoint"'),
        ("deploy", {"ref": "breast-cancer:2", "mode": "shadow"}, viewer, 403, "role operator"),
        ("deploy", {"ref": "breast-cancer:2", "mode": "shadow"}, {}, 401, "none was sent"),
    ]
    for action, body, auth, status, says in cases:
        answer = admin(http, server, action, body, auth)
        assert answer.status == status, (action, body, answer.body)
        assert says in answer.json()["error"], answer.json()
    listed = http.call(f"{server.url}/admin/deployments", headers=viewer)
    assert listed.status == 200 and listed.json()[0]["candidate"] is None
