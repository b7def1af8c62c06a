"""Real servers for the serving tests: ``prodml serve`` in a subprocess, on a free loopback
port, in a project fitted here (breast-cancer: 30 numbers; loans: numbers, integers,
categories and a column with missing values).

A server is started once per session and shared by the modules that only talk to it; a
test that kills its server starts its own with :func:`start_server`. A test that needs
options the project file cannot set builds the app itself and serves it on loopback in a
thread (``in_thread``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
import uvicorn

import prodml
from prodml.deploy.keys import Keys

PRODML = Path(sys.executable).parent / "prodml"
STARTUP_SECONDS = 60


@dataclass
class Server:
    """A running ``prodml serve`` and the project it serves."""

    project: Path
    process: subprocess.Popen[str]
    url: str
    output: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        """host:port, as tritonclient takes it."""
        return self.url.removeprefix("http://")

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=60)
        self.output.append(out)
        return self.process.returncode


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """Plain HTTP (http.client) for the tests: exactly the headers given, nothing added."""

    def call(
        self,
        url: str,
        method: str = "GET",
        body: bytes | Iterable[bytes] | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One request (an iterable body goes chunked); the answer whatever its status."""
        parts = urllib.parse.urlsplit(url)
        sent = dict(headers or {})
        if content_type is not None and body is not None:
            sent["Content-Type"] = content_type
        chunked = body is not None and not isinstance(body, bytes)
        connection = HTTPConnection(parts.netloc, timeout=30)
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.request(method, path, body, sent, encode_chunked=chunked)
            response = connection.getresponse()
            return Answer(response.status, dict(response.headers), response.read())
        finally:
            connection.close()

    def post(self, url: str, payload: Any) -> Answer:
        """POST ``payload`` as JSON (Python's json: NaN is written as NaN)."""
        return self.call(url, "POST", json.dumps(payload).encode())

    @staticmethod
    def records(frame: Any) -> list[dict[str, Any]]:
        """A DataFrame as JSON records: plain values, null for missing."""
        out = json.loads(frame.to_json(orient="records"))
        assert isinstance(out, list)
        return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(project: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    """``prodml serve`` on a free port in ``project``, once ``/health/ready`` says 200;
    the environment is this one without PRODML_ variables, plus ``env``."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    process = subprocess.Popen(
        [str(PRODML), "serve", "--port", str(port), *args],
        cwd=project,
        env={**inherited, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Server(project, process, f"http://127.0.0.1:{port}")
    try:
        _wait_ready(server)
    except BaseException:
        if process.poll() is None:
            process.kill()
        out, _ = process.communicate()
        raise AssertionError(f"prodml serve did not get ready:\n{out}") from None
    return server


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"exited with {server.process.returncode}")
        try:
            if Http().call(f"{server.url}/health/ready").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"not ready after {STARTUP_SECONDS}s")


def fitted(folder: Path, example: str, model: prodml.ModelSpec | None = None) -> Path:
    project = prodml.init(folder, example=example)
    with prodml.Project(project) as opened:
        opened.fit(model)
    return project


#: The loans example's model with fewer trees: the same categories, a third of the fit time.
LOANS_MODEL = {
    "factory": "sklearn.ensemble.HistGradientBoostingClassifier",
    "params": {"max_iter": 30, "categorical_features": "from_dtype", "random_state": 0},
}


@pytest.fixture(scope="session")
def bc_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fitted(tmp_path_factory.mktemp("serve") / "bc", "breast-cancer")


@pytest.fixture(scope="session")
def spare_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A breast-cancer project that tests may add runs to (the others keep their one run,
    which their servers serve)."""
    return fitted(tmp_path_factory.mktemp("serve") / "bc", "breast-cancer")


@pytest.fixture(scope="session")
def loans_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = prodml.ModelSpec(**LOANS_MODEL)
    return fitted(tmp_path_factory.mktemp("serve") / "loans", "loans", model)


@pytest.fixture(scope="session")
def registered_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A breast-cancer project whose fit is evaluated (its audit passes) and registered:
    version 1, the primary of endpoint breast-cancer."""
    folder = fitted(tmp_path_factory.mktemp("serve") / "bc", "breast-cancer")
    with prodml.Project(folder) as project:
        project.evaluate()
        project.register()
    return folder


Switch = Callable[[prodml.Project, int], None]


@pytest.fixture(scope="session")
def switch() -> Switch:
    """Make a version of breast-cancer its primary at once (blue-green, then promoted),
    past the audit gate: the tests' dummy models would not pass it."""

    def switched(project: prodml.Project, version: int) -> None:
        deployer = project.deployer("tests")
        deployer.deploy(f"breast-cancer:{version}", "blue-green", force=True, reason="a test")
        deployer.promote("breast-cancer", force=True, reason="a test")

    return switched


@pytest.fixture(scope="session")
def admin_server(
    registered_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str]]]:
    """A server of the registry (breast-cancer:1 the primary, :2 registered beside it) and
    an admin key's header, so that the admin routes' handlers are reached, not only their
    guard."""
    folder = Path(shutil.copytree(registered_project, tmp_path_factory.mktemp("admin") / "bc"))
    with prodml.Project(folder) as project:
        project.register(project.fit().id)
        _, secret = Keys(project.runs_store.database).create("fuzz", "admin")
    server = start_server(folder)
    yield server, {"Authorization": f"Bearer {secret}"}
    server.stop()


@pytest.fixture(scope="session")
def bc_server(bc_project: Path) -> Iterator[Server]:
    server = start_server(bc_project)
    yield server
    assert server.stop() == 0, server.output


@pytest.fixture(scope="session")
def loans_server(loans_project: Path) -> Iterator[Server]:
    server = start_server(loans_project)
    yield server
    assert server.stop() == 0, server.output


Launch = Callable[..., Server]


@pytest.fixture
def http() -> Http:
    return Http()


InThread = Callable[[Any], contextlib.AbstractContextManager[str]]


@contextlib.contextmanager
def _in_thread(app: Any) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@pytest.fixture(scope="session")
def in_thread() -> InThread:
    """Serve an ASGI app (one built with options a project file cannot set) with uvicorn
    on a free loopback port, in a thread of this process: a context manager that yields
    its URL, and stops the server, its shutdown included, on leaving."""
    return _in_thread


Refused = Callable[..., list[str]]


@pytest.fixture
def refused() -> Refused:
    """``prodml serve`` with arguments in a project, which must refuse to start: the lines
    it printed on stderr (one error line, when it says what to fix)."""

    def run(project: Path, *args: str) -> list[str]:
        result = subprocess.run(
            [str(PRODML), "serve", "--port", "1", *args],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
            env={"NO_COLOR": "1", "COLUMNS": "400", "PATH": ""},
        )
        assert result.returncode == 1, result.stdout
        lines: list[str] = result.stderr.splitlines()
        return lines

    return run


def _launcher() -> Iterator[Launch]:
    started: list[Server] = []

    def start(project: Path, *args: str, env: dict[str, str] | None = None) -> Server:
        started.append(start_server(project, *args, env=env))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def launch() -> Iterator[Launch]:
    """Start servers of one's own (stopped at the end, if still running)."""
    yield from _launcher()


@pytest.fixture(scope="module")
def module_launch() -> Iterator[Launch]:
    """Start servers the tests of a module share (stopped after its last test)."""
    yield from _launcher()


def _features(project: Path) -> Any:
    with prodml.Project(project) as opened:
        return opened.load_data().X


def _model(project: Path) -> Any:
    with prodml.Project(project) as opened:
        return opened.load_model()


@pytest.fixture(scope="session")
def bc_features(bc_project: Path) -> Any:
    """The breast-cancer feature rows (a DataFrame), as the model takes them."""
    return _features(bc_project)


@pytest.fixture(scope="session")
def loans_features(loans_project: Path) -> Any:
    return _features(loans_project)


@pytest.fixture(scope="session")
def bc_model(bc_project: Path) -> Any:
    return _model(bc_project)


@pytest.fixture(scope="session")
def loans_model(loans_project: Path) -> Any:
    return _model(loans_project)
