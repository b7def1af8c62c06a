"""``prodml serve`` facing a tampered model file: the integrity failure is logged once, as
one line, while loading is retried quietly; a running server keeps answering with the
version it has, and ``/health/ready`` and ``/metrics`` say that its new one failed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

import prodml
from prodml.config import ModelSpec

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Server, Switch

PRODML = Path(sys.executable).parent / "prodml"
DUMMY = ModelSpec(
    factory="sklearn.dummy.DummyClassifier", params={"strategy": "constant", "constant": "benign"}
)
INTEGRITY = "was changed after it was saved"
RELOAD_SECONDS = 2  # the server's default: how often it retries a failed load


@pytest.fixture
def registered(tmp_path: Path) -> Path:
    folder = prodml.init(tmp_path / "bc", example="breast-cancer")
    with prodml.Project(folder) as project:
        project.register(project.fit().id, force=True, reason="a test")
    return folder


def model_file(folder: Path, version: int) -> Path:
    with prodml.Project(folder) as project:
        run_id = project.registry.get(f"breast-cancer:{version}").run_id
    return folder / ".prodml" / "artifacts" / run_id / "model.skops"


def spoil(file: Path) -> bytes:
    """Append a byte to ``file``; its content before."""
    content = file.read_bytes()
    file.write_bytes(content + b"\0")
    return content


@dataclass
class Started:
    """A ``prodml serve`` process, not known to be ready."""

    url: str
    process: subprocess.Popen[str]

    def stop(self) -> str:
        """Ctrl-C, as a user stops it; everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, out
        return out


@pytest.fixture
def unready() -> Iterator[Callable[[Path], Started]]:
    """``prodml serve`` started without waiting for it to be ready (it may never be)."""
    started: list[Started] = []

    def start(folder: Path) -> Started:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
        process = subprocess.Popen(
            [str(PRODML), "serve", "--port", str(port)],
            cwd=folder,
            env={**env, "NO_COLOR": "1", "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(Started(f"http://127.0.0.1:{port}", process))
        return started[-1]

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.communicate()


def load_failed(exposition: bytes, endpoint: str) -> float | None:
    """The ``prodml_endpoint_load_failed`` gauge of ``endpoint``, as Prometheus parses it."""
    for family in text_string_to_metric_families(exposition.decode()):
        for metric in family.samples:
            if metric.name == "prodml_endpoint_load_failed" and metric.labels == {
                "endpoint": endpoint
            }:
                return float(metric.value)
    return None


def answering(http: Http, url: str, seconds: float = 60) -> int:
    """Wait until ``url`` answers at all; its status."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return http.call(url).status
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {seconds}s")


def integrity_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if INTEGRITY in line]


def test_a_tampered_primary_is_logged_once_and_retried_quietly_until_restored(
    registered: Path, unready: Callable[[Path], Started], http: Http
) -> None:
    file = model_file(registered, 1)
    good = spoil(file)
    server = unready(registered)

    assert answering(http, f"{server.url}/health/ready") == 503
    time.sleep(3 * RELOAD_SECONDS + 1)  # three retries at least
    ready = http.call(f"{server.url}/health/ready")
    metrics = http.call(f"{server.url}/metrics").body
    file.write_bytes(good)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and http.call(f"{server.url}/health/ready").status != 200:
        time.sleep(0.2)
    restored = http.call(f"{server.url}/health/ready")
    after = http.call(f"{server.url}/metrics").body
    output = server.stop()

    assert ready.status == 503 and ready.json()["status"] == "loading"
    assert INTEGRITY in ready.json()["errors"]["breast-cancer"]
    assert load_failed(metrics, "breast-cancer") == 1
    assert "Traceback" not in output
    lines = integrity_lines(output)
    assert len(lines) == 1, output
    assert "cannot load endpoint breast-cancer: IntegrityError: model breast-cancer:1: " in lines[0]
    assert lines[0].endswith("; it answers 503, retrying"), lines[0]
    assert restored.status == 200, restored.body
    assert restored.json() == {"status": "ready", "endpoints": {"breast-cancer": "breast-cancer:1"}}
    assert load_failed(after, "breast-cancer") == 0
    assert "endpoint breast-cancer loaded breast-cancer:1" in output


def test_a_tampered_new_primary_keeps_the_old_one_and_health_says_degraded(
    registered: Path, launch: Callable[..., Server], http: Http, switch: Switch
) -> None:
    server = launch(registered)
    rows = http.records(
        pd.read_csv(registered / "data" / "breast_cancer.csv")
        .drop(columns=["patient_id", "diagnosis"])
        .head(1)
    )
    with prodml.Project(registered) as project:
        version = project.register(project.fit(DUMMY).id)
    spoil(model_file(registered, version.version))
    with prodml.Project(registered) as project:
        switch(project, version.version)

    deadline = time.monotonic() + 30
    ready = http.call(f"{server.url}/health/ready")
    while time.monotonic() < deadline and ready.json()["status"] == "ready":
        time.sleep(0.2)
        ready = http.call(f"{server.url}/health/ready")
    time.sleep(2 * RELOAD_SECONDS + 1)  # two more retries
    answer = http.post(f"{server.url}/predict", {"records": rows})
    metrics = http.call(f"{server.url}/metrics").body
    assert server.stop() == 0
    output = server.output[-1]

    assert ready.status == 200
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["endpoints"] == {"breast-cancer": "breast-cancer:1"}
    assert "model breast-cancer:2" in body["errors"]["breast-cancer"]
    assert INTEGRITY in body["errors"]["breast-cancer"]
    assert answer.status == 200 and answer.json()["predictions"][0]["model"] == "breast-cancer:1"
    assert load_failed(metrics, "breast-cancer") == 1
    assert "Traceback" not in output
    lines = integrity_lines(output)
    assert len(lines) == 1, output
    assert "cannot load endpoint breast-cancer: IntegrityError: model breast-cancer:2: " in lines[0]
    assert lines[0].endswith("; it serves breast-cancer:1, retrying"), lines[0]
