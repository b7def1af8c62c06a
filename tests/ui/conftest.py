"""One real store for the dashboard's tests: the loans example fitted twice, evaluated,
both versions registered and the second deployed as a shadow, a real ``prodml serve``
answering traffic (logged, labelled and monitored in windows of 200 predictions, an alert
rule that fires), then partial automation deferring answers to the review queue.

The server keeps running for the session (``serve.ui: true``, so it shows the dashboard at
``/ui`` too): the browser tests send it traffic and watch the live page change.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import prodml
from prodml.serve.demo import records, send, send_feedback
from prodml.ui.app import create_ui

#: rows sent before automation (three monitor windows, shadow copies beside), and after
SENT, DEFERRED = 600, 40
#: the address TestClient's requests come from: this machine (no key made: no sign-in)
LOOPBACK = ("127.0.0.1", 50000)
PRODML = Path(sys.executable).parent / "prodml"
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class Store:
    """The project folder and the URL of the ``prodml serve`` running on it."""

    folder: Path
    url: str


def _configure(folder: Path) -> None:
    settings = folder / "prodml.yaml"
    text = settings.read_text(encoding="utf-8").replace("  window: 500", "  window: 200")
    text = text.replace("  alerts:\n", "  alerts:\n    - {metric: requests, above: 0}\n", 1)
    settings.write_text(text + "serve:\n  ui: true\n", encoding="utf-8")


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[str]:
    """``prodml serve`` in ``folder`` on a free loopback port, until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    process = subprocess.Popen(
        [str(PRODML), "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _ready(url):
            assert process.poll() is None, f"prodml serve exited with {process.returncode}"
            assert time.monotonic() < deadline, f"prodml serve not ready in {STARTUP_SECONDS} s"
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = prodml.init(tmp_path_factory.mktemp("ui") / "loans", example="loans")
    _configure(folder)
    with prodml.Project(folder) as project:
        small = prodml.ModelSpec(
            factory="sklearn.ensemble.HistGradientBoostingClassifier",
            params={"max_iter": 20, "categorical_features": "from_dtype", "random_state": 0},
        )
        first, second = project.fit(), project.fit(small)
        for run in (first, second):
            project.evaluate(run.id)
            project.register(run.id, force=True, reason="the dashboard's tests")
        project.deployer("tester").deploy("loans:2", "shadow", force=True, reason="to compare")
        data = project.load_data()
        rows = records(data.X.head(SENT + DEFERRED))
        with serving(folder) as url:
            ids = send(url, rows[:SENT], per_request=10)
            truth = data.frame[data.target].head(SENT).tolist()
            send_feedback(url, [(i, int(label)) for i, label in zip(ids, truth, strict=True)])
            project.monitor()
            project.automate("loans", "partial", defer_below=0.999, reason="to review")
            time.sleep(2.5)  # servers pick a change up within two seconds
            send(url, rows[SENT:], per_request=10)
            yield Store(folder, url)


@contextlib.contextmanager
def canary(folder: Path) -> Iterator[prodml.Project]:
    """breast-cancer in ``folder`` with two evaluated, registered versions, the second a
    canary, open until the block ends."""
    with prodml.Project(prodml.init(folder, example="breast-cancer")) as project:
        for run in (project.fit(), project.fit()):
            project.evaluate(run.id)
            project.register(run.id)
        project.deployer("tester").deploy("breast-cancer:2", "canary", reason="to try")
        yield project


@pytest.fixture(scope="session")
def with_canary() -> Callable[[Path], contextlib.AbstractContextManager[prodml.Project]]:
    """:func:`canary`, for a test module that needs a store of its own."""
    return canary


@pytest.fixture(scope="session")
def serve() -> Callable[[Path], contextlib.AbstractContextManager[str]]:
    """:func:`serving`, for a test module that runs a server of its own."""
    return serving


@pytest.fixture(scope="session")
def project(store: Store) -> Iterator[prodml.Project]:
    with prodml.Project(store.folder) as opened:
        yield opened


@pytest.fixture
def client(project: prodml.Project) -> Iterator[TestClient]:
    """The dashboard, as this machine's browser reaches it (no key made: no sign-in)."""
    with TestClient(create_ui(project), client=LOOPBACK) as opened:
        yield opened
