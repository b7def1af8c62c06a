"""``prodml serve`` on the registry: the primary answers, and a new primary takes over while
requests keep coming, none failing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

import prodml
from prodml.config import ModelSpec

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Server, Switch

DUMMY = ModelSpec(
    factory="sklearn.dummy.DummyClassifier", params={"strategy": "constant", "constant": "benign"}
)


def test_a_new_primary_takes_over_without_a_failed_request(
    tmp_path: Path, launch: Callable[..., Server], http: Http, switch: Switch
) -> None:
    folder = prodml.init(tmp_path / "bc", example="breast-cancer")
    with prodml.Project(folder) as project:
        project.evaluate(project.fit().id)
        project.register()
    server = launch(folder)
    rows = http.records(
        pd.read_csv(folder / "data" / "breast_cancer.csv")
        .drop(columns=["patient_id", "diagnosis"])
        .head(1)
    )
    url = f"{server.url}/predict"
    first = http.post(url, {"records": rows}).json()["predictions"][0]
    assert first["model"] == "breast-cancer:1"

    statuses: list[int] = []
    models: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            answer = http.post(url, {"records": rows})
            statuses.append(answer.status)
            if answer.status == 200:
                models.append(answer.json()["predictions"][0]["model"])

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        with prodml.Project(folder) as project:
            version = project.register(project.fit(DUMMY).id)
            switch(project, version.version)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not models or models[-1] != "breast-cancer:2"):
            time.sleep(0.1)
    finally:
        stop.set()
        sender.join()

    assert set(statuses) == {200}
    assert models[0] == "breast-cancer:1" and models[-1] == "breast-cancer:2"
    assert http.post(url, {"records": rows}).json()["predictions"][0]["label"] == "benign"
