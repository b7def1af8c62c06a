"""``prodml deployments compare NAME [--json] [--html FILE]`` and the forms beside it
(``deployments [NAME]``, ``deployments check NAME``) on the command line: what each prints,
the page it writes, and one error line where there is nothing to compare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest
from typer.testing import CliRunner

import prodml
from prodml.cli import app

if TYPE_CHECKING:
    from tests.deploy.conftest import LogAnswers

pytestmark = pytest.mark.usefixtures("default_store")
runner = CliRunner()
#: P(malignant) the primary and the shadow answered four requests with: they disagree once
PRIMARY, SHADOW = (0.2, 0.9, 0.8, 0.1), (0.3, 0.7, 0.4, 0.1)


def run(folder: Path, *args: str) -> Any:
    return runner.invoke(app, ["deployments", *args, "-C", str(folder)], catch_exceptions=False)


def ok(folder: Path, *args: str) -> str:
    result = run(folder, *args)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


@pytest.fixture
def folder(two_versions: Path, tmp_path: Path) -> Path:
    """A copy of the project with two versions: 1 the primary, 2 nowhere yet."""
    return Path(shutil.copytree(two_versions, tmp_path / "bc"))


@pytest.fixture
def shadowed(folder: Path, log_answers: LogAnswers) -> Path:
    """The copy with version 2 a shadow of 1, on four requests."""
    ids = [uuid4().hex for _ in PRIMARY]
    with prodml.Project(folder) as project:
        project.deployer("ana").deploy("breast-cancer:2", "shadow")
        for version, role, answers in ((1, "primary", PRIMARY), (2, "shadow", SHADOW)):
            log_answers(
                project, version, role, [(r, p, 1500) for r, p in zip(ids, answers, strict=True)]
            )
    return folder


def test_compare_says_which_comparison_with_the_agreement_in_80_columns(shadowed: Path) -> None:
    shown = ok(shadowed, "compare", "breast-cancer")

    flat = " ".join(shown.split())
    assert "Shadow comparison of breast-cancer:2 (shadow) beside breast-cancer:1" in flat
    assert "paired, on the 4 requests both answered" in flat
    assert "They agree on 75.0% (95% interval 30.1% to 95.4%)." in flat
    assert "│ malignant │ 1 │ 1 │" in flat  # the primary said malignant twice, the shadow once
    assert "│ server errors │ 0.00% (0) │ 0.00% (0) │ +0.00% │" in flat
    assert max(len(line) for line in shown.splitlines()) <= 80


def test_compare_json_holds_it_all_and_html_writes_a_page_with_the_numbers(
    shadowed: Path, tmp_path: Path
) -> None:
    page = tmp_path / "compare.html"

    printed = json.loads(ok(shadowed, "compare", "breast-cancer", "--json"))
    shown = ok(shadowed, "compare", "breast-cancer", "--html", str(page))

    assert (printed["kind"], printed["pairs"], printed["agreement"]) == ("shadow", 4, 0.75)
    assert printed["confusion"] == {
        "benign": {"benign": 2},
        "malignant": {"benign": 1, "malignant": 1},
    }
    assert printed["candidate"]["version"] == 2 and printed["primary"]["errors"] == 0
    assert set(printed["drift"]) == {"(predicted)", "(confidence)"}
    # the path may wrap anywhere at 80 columns (a long temporary folder): compare unwrapped
    assert f"HTMLreport:{page}" in "".join(shown.split())
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    for text in (
        "Shadow comparison of breast-cancer:2 (shadow) beside breast-cancer:1 (primary)",
        "They agree on 75.0% (95% interval 30.1% to 95.4%)",
        f"{printed['drift']['(confidence)']['score']:.4g}",
        "<td>malignant</td><td>1</td><td>1</td>",
    ):
        assert text in html, text


def test_a_canary_is_compared_over_the_same_period_and_says_so(
    folder: Path, log_answers: LogAnswers
) -> None:
    with prodml.Project(folder) as project:
        project.deployer("ana").deploy("breast-cancer:2", "canary")
        log_answers(project, 1, "primary", [(uuid4().hex, p, 1000) for p in PRIMARY])
        log_answers(project, 2, "canary", [(uuid4().hex, p, 3000) for p in SHADOW[:3]])

    shown = " ".join(ok(folder, "compare", "breast-cancer").split())

    assert "Canary comparison of breast-cancer:2 (canary) beside breast-cancer:1" in shown
    assert "each answered its own requests (4 and 3), so nothing is paired" in shown
    assert "agree" not in shown
    assert "│ latency p50 ms │ 1.0 │ 3.0 │ +2.0 │" in shown
    assert "│ malignant │ 2 (50.0%) │ 1 (33.3%) │" in shown


def test_the_listing_forms_keep_working_beside_compare_and_check(shadowed: Path) -> None:
    listed = json.loads(ok(shadowed, "--json"))
    one = " ".join(ok(shadowed, "breast-cancer").split())
    shown = json.loads(ok(shadowed, "show", "breast-cancer", "--json"))
    usage = " ".join(runner.invoke(app, ["deployments", "--help"]).stdout.split())
    compare = runner.invoke(app, ["deployments", "compare", "--help"]).stdout

    assert [d["endpoint"] for d in listed] == ["breast-cancer"]
    assert "│ breast-cancer │ 1 │ 2 shadow │ 100% │ - │ 2 │" in one
    assert shown[0]["candidate"]["mode"] == "shadow" and shown[0]["events"]
    for command in ("show", "compare", "check", "Examples"):
        assert command in usage
    assert "Usage: prodml deployments compare [OPTIONS] {endpoint}" in compare
    assert "--html" in compare and "Examples" in compare


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("compare", "breast-cancer"),
            "error: endpoint breast-cancer has never had a shadow or canary, so there is "
            "nothing to compare; deploy one with prodml deploy breast-cancer:VERSION --shadow "
            "(or --canary)",
        ),
        (
            ("check", "breast-cancer"),
            "error: endpoint breast-cancer has no canary to check; deploy one with prodml "
            "deploy breast-cancer:VERSION --canary",
        ),
        (("compare", "breast-cancr"), "error: no endpoint 'breast-cancr'"),
    ],
)
def test_nothing_to_compare_or_check_is_one_error_line(
    folder: Path, args: tuple[str, ...], message: str
) -> None:
    result = run(folder, *args)

    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert " ".join(line.split()).startswith(message)
