"""The whole cycle under steady load: shadow, canary, promote, rollback, with requests
flowing all along, on SQLite (one server) and on PostgreSQL (two servers, one of them with
two workers). No request fails, every answer names the version and role that logged it,
and replicas route one sticky key alike."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

import prodml
from prodml.serve.routing import point

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Launch, Server

#: Seconds each phase lasts; servers look at the store every second.
PHASE = 3.0
#: Answers this soon after a change may come from either side of it.
SETTLING = 2.5


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bc' / '.prodml' / 'prodml.db'}"
    url: str = request.getfixturevalue("own_postgres_url")
    return url


def client(
    http: Http,
    urls: list[str],
    body: list[dict[str, Any]],
    stop: threading.Event,
    seen: list[Any],
    number: int,
) -> None:
    """Requests with sticky keys, round robin over the servers, until ``stop``."""
    i = 0
    while not stop.is_set():
        key = f"user-{number}-{i % 40}"
        url = urls[i % len(urls)]
        sent = time.monotonic()
        answer = http.call(
            f"{url}/predict",
            "POST",
            json.dumps({"records": body}).encode(),
            headers={"X-Prodml-Key": key},
        )
        prediction = answer.json()["predictions"][0] if answer.status == 200 else {}
        seen.append(
            (
                sent,
                key,
                answer.status,
                prediction.get("request_id"),
                prediction.get("model"),
                prediction.get("role"),
            )
        )
        i += 1


def logged(store: str) -> dict[str, set[tuple[int, str]]]:
    """Each request id's logged (version, role) pairs."""
    query = (
        "select p.request_id, s.model_version, s.role from predictions p "
        "join log_streams s on s.id = p.stream_id"
    )
    if store.startswith("sqlite"):
        with sqlite3.connect(store.removeprefix("sqlite:///")) as db:
            rows = db.execute(query).fetchall()
    else:
        engine = create_engine(store)
        with engine.connect() as conn:
            rows = list(conn.execute(text(query)).all())
        engine.dispose()
    found: dict[str, set[tuple[int, str]]] = {}
    for rid, version, role in rows:
        found.setdefault(rid, set()).add((version, role))
    return found


def test_shadow_canary_promote_rollback_under_load_fail_no_request(
    store: str, tmp_path: Path, launch: Launch, http: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRODML_DATABASE_URL", store)
    folder = prodml.init(tmp_path / "bc", example="breast-cancer")
    with prodml.Project(folder) as project:
        for model in (
            None,
            prodml.ModelSpec(
                factory="sklearn.linear_model.LogisticRegression",
                params={"C": 0.01, "max_iter": 500},
            ),
        ):
            run = project.fit(model)
            project.evaluate(run.id)
            project.register(run.id)
    env = {"PRODML_DATABASE_URL": store}
    servers: list[Server] = [launch(folder, env=env)]
    if not store.startswith("sqlite"):
        servers.append(launch(folder, "--workers", "2", env=env))
    body = http.records(
        pd.read_csv(folder / "data" / "breast_cancer.csv")
        .drop(columns=["patient_id", "diagnosis"])
        .head(1)
    )
    seen: list[Any] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=client, args=(http, [s.url for s in servers], body, stop, seen, n))
        for n in range(3)
    ]
    changes: list[tuple[float, float, str]] = []
    with prodml.Project(folder) as project:
        deployer = project.deployer("tests")
        steps: list[tuple[str, Callable[[], object]]] = [
            ("shadow", lambda: deployer.deploy("breast-cancer:2", "shadow")),
            ("stop", lambda: deployer.stop("breast-cancer")),
            ("canary", lambda: deployer.deploy("breast-cancer:2", "canary", ramp=[50, 100])),
            ("promote", lambda: deployer.promote("breast-cancer")),
            ("rollback", lambda: deployer.rollback("breast-cancer")),
        ]
        for thread in clients:
            thread.start()
        try:
            time.sleep(PHASE)
            for name, change in steps:
                # a phase settles after its change returned and ends when the next change
                # begins: a request answered while promote runs is in no canary phase
                began = time.monotonic()
                change()
                changes.append((began, time.monotonic(), name))
                time.sleep(PHASE)
        finally:
            stop.set()
            for thread in clients:
                thread.join(timeout=60)

    span = seen[-1][0] - seen[0][0]
    assert len(seen) / span > 200, len(seen) / span  # steady traffic all along, requests/s
    assert {status for _, _, status, *_ in seen} == {200}
    rows = logged(store)
    for *_, rid, model, role in seen:  # the answer names what logged it
        assert (int(model.rpartition(":")[2]), role) in rows[rid]
    shadowed = [pairs for pairs in rows.values() if (2, "shadow") in pairs]
    assert shadowed and all((1, "primary") in pairs for pairs in shadowed)

    def settled(phase: str) -> list[Any]:
        start = next(done for _, done, name in changes if name == phase)
        end = next((began for began, _, _ in changes if began > start), float("inf"))
        return [s for s in seen if start + SETTLING < s[0] < end]

    canary = settled("canary")
    assert canary
    for _, key, _, _, model, role in canary:  # every replica routes a key the same way
        wanted = (
            ("breast-cancer:2", "canary") if point(key) < 50 else ("breast-cancer:1", "primary")
        )
        assert (model, role) == wanted
    assert {(m, r) for *_, m, r in settled("promote")} == {("breast-cancer:2", "primary")}
    assert {(m, r) for *_, m, r in settled("rollback")} == {("breast-cancer:1", "primary")}
