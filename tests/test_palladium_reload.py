"""``prodml serve --reload`` (Palladium's ``devserver``): a change to the project's files
reaches the running server without a restart by hand."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
import yaml
from typer.testing import CliRunner

import prodml
from prodml.cli import app

PRODML = Path(sys.executable).parent / "prodml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def record_fields(url: str) -> list[str] | None:
    """The fields of an input record in the server's OpenAPI document; None while it is
    starting (again)."""
    try:
        with urlopen(f"{url}/openapi.json", timeout=5) as answer:
            document: dict[str, Any] = json.loads(answer.read())
    except OSError:
        return None
    return list(document["components"]["schemas"]["Record"]["properties"])


def until(check: Any, what: str, seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"waited {seconds} s for {what}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = prodml.init(tmp_path / "bc", example="breast-cancer")
    with prodml.Project(folder) as opened:
        opened.fit()
    return folder


@pytest.fixture
def reloading(project: Path) -> Iterator[str]:
    """``prodml serve --reload`` of the project on a free loopback port."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    server = subprocess.Popen(
        [str(PRODML), "serve", "--reload", "--port", str(port)],
        cwd=project,
        env={**inherited, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        until(lambda: server.poll() is not None or record_fields(url), "the server to start")
        assert server.poll() is None, server.communicate()[0]
        yield url
    finally:
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C, as a developer stops it
        output, _ = server.communicate(timeout=60)
        assert server.returncode == 0, output
        assert "Traceback" not in output, output


def test_a_changed_project_file_reaches_the_running_server(project: Path, reloading: str) -> None:
    fields = record_fields(reloading)
    assert fields is not None and "hospital" not in fields
    settings = yaml.safe_load((project / "prodml.yaml").read_text())
    settings["data"]["metadata"] = ["hospital"]  # a field requests may carry, to be logged
    (project / "prodml.yaml").write_text(yaml.safe_dump(settings))
    reloaded = until(lambda: "hospital" in (record_fields(reloading) or []), "the server to reload")
    assert reloaded


def test_reload_with_several_workers_is_refused(project: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--reload", "--workers", "2", "-C", str(project)], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert " ".join(result.stderr.split()) == (
        "error: --reload serves one process, and --workers is 2; drop one of them (--reload "
        "is for development)"
    )
