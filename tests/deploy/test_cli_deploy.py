"""``prodml deploy``, ``promote``, ``rollback``, ``deployments`` and ``models register``'s
audit gate, on the command line (Typer's runner, in this process, exceptions not caught)."""

from __future__ import annotations

import getpass
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import prodml
from prodml.cli import app

runner = CliRunner()


def command(folder: Path, *args: str) -> Any:
    result = runner.invoke(app, [*args, "-C", str(folder)], catch_exceptions=False)
    return result


def ok(folder: Path, *args: str) -> str:
    result = command(folder, *args)
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.split())  # Rich wraps at the runner's width


def error_line(folder: Path, *args: str) -> str:
    result = command(folder, *args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return " ".join(lines[0].split())


pytestmark = pytest.mark.usefixtures("default_store")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """breast-cancer with two evaluated fits (both pass the audit) and a third never
    evaluated: run ids in ``runs.json``, oldest first."""
    folder = prodml.init(tmp_path_factory.mktemp("cli") / "bc", example="breast-cancer")
    with prodml.Project(folder) as project:
        fits = [project.fit() for _ in range(3)]
        for run in fits[:2]:
            project.evaluate(run.id)
    (folder / "runs.json").write_text(json.dumps([run.id for run in fits]))
    return folder


@pytest.fixture
def folder(template: Path, tmp_path: Path) -> Iterator[Path]:
    yield Path(shutil.copytree(template, tmp_path / "bc"))


def test_register_opens_the_endpoint_only_for_a_version_that_passed_its_audit(
    folder: Path,
) -> None:
    first, second, unevaluated = json.loads((folder / "runs.json").read_text())

    alone = ok(folder, "models", "register", unevaluated)
    opened = ok(folder, "models", "register", first)

    assert "It serves nowhere: it was never evaluated." in alone
    assert f"prodml evaluate {unevaluated[:8]}, then prodml deploy breast-cancer:1" in alone
    assert "It serves nowhere yet. Next: prodml deploy breast-cancer:2." in opened
    with prodml.Project(folder) as project:
        assert project.registry.deployments() == []
    opened_now = ok(folder, "deploy", "breast-cancer:2", "--reason", "x")  # passed: no --force
    assert "Endpoint breast-cancer serves breast-cancer:2 (revision 1)." in opened_now
    later = ok(folder, "models", "register", second)
    assert "prodml deploy breast-cancer:3 --shadow" in later


def test_the_cycle_canary_promote_rollback_and_what_deployments_shows(folder: Path) -> None:
    first, second, _ = json.loads((folder / "runs.json").read_text())
    ok(folder, "models", "register", first)
    ok(folder, "models", "register", second)

    canary = ok(
        folder, "deploy", "breast-cancer:2", "--canary", "--ramp", "10,50,100", "--step", "30s",
        "--reason", "a better fit",
    )  # fmt: skip
    state = json.loads(command(folder, "deployments", "--json").stdout)
    table = ok(folder, "deployments", "breast-cancer")
    checked = ok(folder, "deployments", "check", "breast-cancer")
    looked = json.loads(command(folder, "deployments", "check", "breast-cancer", "--json").stdout)
    promoted = ok(folder, "promote", "breast-cancer")
    rolled = ok(folder, "rollback", "breast-cancer", "--reason", "p99", "--json")

    assert "serves breast-cancer:1, with breast-cancer:2 canary step 1/3 at 10%" in canary
    (only,) = state
    assert only["candidate"]["plan"] == {
        "ramp": [10.0, 50.0, 100.0],
        "step_seconds": 30.0,
        "min_requests": 500,
    }
    assert (only["primary"], only["candidate"]["share"], only["revision"]) == (1, 10.0, 2)
    for text in ("│ breast-cancer │ 1 │ 2 canary step 1/3 │ 10% │ - │ 2 │", "a better fit"):
        assert text in table, table
    assert getpass.getuser() in table  # who made the change
    assert "canary guards" in checked and "serves breast-cancer:1, with breast-cancer:2" in checked
    assert (looked["action"], looked["deployment"]["revision"]) == ("hold", 2)  # no traffic yet
    assert "serves breast-cancer:2 (revision 3)" in promoted
    assert json.loads(rolled)["primary"] == 1 and json.loads(rolled)["previous"] is None


def test_deploy_mistakes_are_one_line_each(folder: Path) -> None:
    first, second, unevaluated = json.loads((folder / "runs.json").read_text())
    for run in (first, second, unevaluated):
        ok(folder, "models", "register", run)

    assert "give one of --shadow, --canary, --blue-green and --stop" in error_line(
        folder, "deploy", "breast-cancer:2", "--shadow", "--canary"
    )
    assert "--ramp 'a,b' is not a list of numbers" in error_line(
        folder, "deploy", "breast-cancer:2", "--canary", "--ramp", "a,b"
    )
    assert "--step '10x' is not a duration" in error_line(
        folder, "deploy", "breast-cancer:2", "--canary", "--step", "10x"
    )
    assert "cannot deploy breast-cancer:3 was never evaluated" in error_line(
        folder, "deploy", "breast-cancer:3", "--canary"
    )
    assert "has no candidate to promote" in error_line(folder, "promote", "breast-cancer")
    assert "has no previous primary to roll back to" in error_line(
        folder, "rollback", "breast-cancer"
    )
    assert "no endpoint 'breast-cancr'" in error_line(folder, "deployments", "breast-cancr")
    forced = ok(
        folder, "deploy", "breast-cancer:3", "--shadow", "--force", "--reason", "compare it"
    )
    assert "with breast-cancer:3 shadow at 100%" in forced
    assert "has no candidate to stop" not in ok(folder, "deploy", "breast-cancer", "--stop")
