"""``prodml retrain`` and ``prodml retrain --backtest``: the command's JSON is what the
project and its store hold, its tables show the same numbers and fit 80 columns, and
options it cannot take are refused naming the option, the value and what is allowed."""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score
from sqlalchemy import bindparam, update
from typer.main import get_command
from typer.testing import CliRunner

import prodml
from prodml.cli import app
from prodml.store.tables import FeedbackRow

if TYPE_CHECKING:
    from tests.retrain.conftest import GiveFeedback, LogRows, ToyData, WriteProject
    from tests.retrain.test_retrain import SERVED, serve_and_label
    from typer.testing import Result
else:  # pytest imports the tests of this folder by their file's name (no package)
    from test_retrain import SERVED, serve_and_label

runner = CliRunner()


def invoke(folder: Path, *args: str) -> Result:
    """``prodml ARGS -C FOLDER`` on a terminal of 80 columns."""
    return runner.invoke(
        app, [*args, "-C", str(folder)], env={"COLUMNS": "80"}, catch_exceptions=False
    )


def table_rows(output: str) -> list[list[str]]:
    """The cells of every body row of the tables in ``output``."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def fits_80_columns(output: str) -> None:
    assert "…" not in output
    assert max(len(line) for line in output.splitlines()) <= 80, output


def error_line(result: Result) -> str:
    """The one red line of a refused command, its whitespace as one space."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    return " ".join(result.stderr.split())


def test_retrain_json_is_the_version_registered_and_the_shadow_in_the_store(
    toy: prodml.Project, toy_data: ToyData, log_rows: LogRows, give_feedback: GiveFeedback
) -> None:
    serve_and_label(toy, toy_data, log_rows, give_feedback)
    result = invoke(toy.path, "retrain", "--strategy", "window", "--window", "300", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    version = toy.registry.get(f"{toy.name}:2")
    assert (found["ref"], found["run_id"]) == (version.ref, version.run_id)
    assert found["passed"] is True and version.audit_passed is True
    candidate = toy.registry.deployment(toy.name).candidate
    assert candidate is not None
    assert (found["shadow"], found["mode"]) == (toy.name, candidate.mode) == (toy.name, "shadow")
    assert found["version"] == candidate.version == 2
    assert found["primary"] == f"{toy.name}:1"
    params = toy.run(found["run_id"]).params or {}
    assert (params["retrain.strategy"], params["retrain.window"]) == ("window", "300")
    assert found["training_set"]["rows"] == 300
    assert found["training_set"]["fingerprint"] == params["retrain.fingerprint"]
    # the test split's scores, against scikit-learn on the models the registry holds
    data = toy.load_data()
    test = data.rows(np.flatnonzero(toy.split(data).assignment == 2))
    scores = found["scores"][-1]
    assert (scores["data"], scores["rows"]) == ("original test split", len(test.frame))
    primary = toy.registry.load(toy.registry.get(f"{toy.name}:1"))
    for model, side in ((toy.registry.load(version), "candidate"), (primary, "primary")):
        assert scores[side]["accuracy"] == accuracy_score(test.y, model.predict(test.X))


def test_the_tables_show_the_json_s_scores_and_fit_80_columns(
    toy: prodml.Project, toy_data: ToyData, log_rows: LogRows, give_feedback: GiveFeedback
) -> None:
    serve_and_label(toy, toy_data, log_rows, give_feedback)
    shown = invoke(toy.path, "retrain")
    assert shown.exit_code == 0, shown.output
    fits_80_columns(shown.stdout)
    text = " ".join(shown.stdout.split())
    assert f"registered as {toy.name}:2" in text
    assert f"Compared with the primary {toy.name}:1." in text
    test_rows = (toy.split(toy.load_data()).assignment == 2).sum()
    assert f"({400 - test_rows} from the data, 48 from the log)" in text  # not the test split
    assert "from the log), 2026-01-01 00:00 to 2026-02-02 23:00" in text
    assert f"deployed as the shadow of endpoint {toy.name}" in text
    assert (
        f"Next: prodml deployments compare {toy.name}, then prodml deploy {toy.name}:2 --canary "
        f"or prodml promote {toy.name}"
    ) in text
    # the same training set fits the same model again: the second run's JSON has its numbers
    again = invoke(toy.path, "retrain", "--json")
    assert again.exit_code == 0, again.output
    found = json.loads(again.stdout)
    assert f"fingerprint {found['training_set']['fingerprint'][:12]}" in text
    expected = [
        (metric, value, scores["primary"][metric])
        for scores in found["scores"]
        for metric, value in scores["candidate"].items()
    ]
    rows = table_rows(shown.stdout)
    assert [row[0] for row in rows] == [metric for metric, _, _ in expected]
    for row, (_, candidate, primary) in zip(rows, expected, strict=True):
        assert abs(float(row[1]) - candidate) <= 5e-5 and abs(float(row[2]) - primary) <= 5e-5
        assert abs(float(row[3]) - (candidate - primary)) <= 5e-5
    assert f"newest labelled ({found['scores'][0]['rows']} rows): audit passed" in text


def test_a_candidate_that_fails_its_audit_exits_1_and_says_why(
    tmp_path: Path,
    database_url: str,
    write_project: WriteProject,
    toy_data: ToyData,
    log_rows: LogRows,
    give_feedback: GiveFeedback,
) -> None:
    folder = write_project(
        tmp_path / "strict", database_url, audit=[{"metric": "accuracy", "min": 0.97}]
    )
    with prodml.Project(folder) as project:
        serve_and_label(project, toy_data, log_rows, give_feedback, force=True)
        result = invoke(folder, "retrain")
        assert result.exit_code == 1, result.output
        fits_80_columns(result.stdout)
        text = " ".join(result.stdout.split())
        candidate = project.registry.load(project.registry.get(f"{project.name}:2"))
        data = project.load_data()
        test = data.rows(np.flatnonzero(project.split(data).assignment == 2))
        score = accuracy_score(test.y, candidate.predict(test.X))
        assert "Failed its audit: registered, not deployed." in text
        assert f"original test split: accuracy is {score:.3f}, below the minimum 0.970" in text
        assert f"Next: prodml evaluate {project.runs()[0].id[:8]} to see why" in text
        assert project.registry.deployment(project.name).candidate is None


def labelled_a_day_later(project: prodml.Project, ids: list[str], times: pd.Series) -> None:
    """Date each request's label a day after its prediction, as if labels had come in
    over time (``prodml feedback`` dates them now)."""
    change = (
        update(FeedbackRow)
        .where(FeedbackRow.request_id == bindparam("rid"))
        .values(received_at=bindparam("at"))
    )
    moments = [t.tz_localize(UTC).to_pydatetime() + timedelta(days=1) for t in times]
    with project.runs_store.database.engine.begin() as connection:
        connection.execute(
            change, [{"rid": i, "at": at} for i, at in zip(ids, moments, strict=True)]
        )


#: Makes the toy project with these ``retrain:`` settings and a labelled history.
History = Callable[[dict[str, Any]], prodml.Project]


@pytest.fixture
def history(
    tmp_path: Path,
    database_url: str,
    write_project: WriteProject,
    toy_data: ToyData,
    log_rows: LogRows,
    give_feedback: GiveFeedback,
) -> Iterator[History]:
    """The toy project with ``retrain:`` settings, and 200 answers labelled a day after each."""
    with contextlib.ExitStack() as opened:

        def make(retrain: dict[str, Any]) -> prodml.Project:
            folder = write_project(tmp_path / "history", database_url, retrain=retrain)
            project = opened.enter_context(prodml.Project(folder))
            serve_and_label(project, toy_data, log_rows, give_feedback, rows=200)
            served = toy_data(200, seed=5, start=SERVED)
            ids = [f"{project.name}-r{i}" for i in range(200)]
            labelled_a_day_later(project, ids, served["at"])
            return project

        yield make


def test_backtest_json_equals_project_backtest_and_the_table_shows_it(
    history: History, tmp_path: Path
) -> None:
    project = history({"window": "20d"})
    result = invoke(project.path, "retrain", "--backtest", "--points", "4", "--json")
    assert result.exit_code == 0, result.output
    found = project.backtest(points=4)
    assert json.loads(result.stdout) == json.loads(json.dumps(found.to_dict()))
    assert found.strategies == ("all", "window", "weighted") and found.skipped == {}
    page = tmp_path / "backtest.html"
    shown = invoke(project.path, "retrain", "--backtest", "--points", "4", "--html", str(page))
    assert shown.exit_code == 0, shown.output
    fits_80_columns(shown.stdout)
    rows = table_rows(shown.stdout)
    assert [row[0] for row in rows] == [
        *(f"{p.cutoff:%Y-%m-%d %H:%M:%S}" for p in found.points),
        "mean",
    ]
    for row, point in zip(rows, found.points, strict=False):
        assert row[1:] == [
            str(point.rows_scored),
            *(f"{point.scores[s]:.4f}" for s in found.strategies),
            ", ".join(point.winners),
        ]
    assert rows[-1][2:] == [
        *(f"{found.mean[s]:.4f}" for s in found.strategies),
        ", ".join(found.winners),
    ]
    text = " ".join(shown.stdout.split())
    assert "accuracy (higher is better) on the labelled rows after each point" in text
    best = found.winners[0]
    assert f"Best: {' and '.join(found.winners)} (mean accuracy {found.mean[best]:.4f})" in text
    written = page.read_text(encoding="utf-8")
    assert all(f">{s}<" in written for s in found.strategies)


def test_a_strategy_the_project_cannot_replay_is_skipped_with_why(history: History) -> None:
    project = history({})
    shown = invoke(project.path, "retrain", "--backtest", "--points", "3")
    assert shown.exit_code == 0, shown.output
    fits_80_columns(shown.stdout)
    text = " ".join(shown.stdout.split())
    assert "window skipped: no window is set: give --window 90d (a duration) or --window 5000" in (
        text
    )
    header = next(line for line in shown.stdout.splitlines() if line.startswith("┃"))
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == [
        "cutoff (UTC)",
        "scored",
        "all",
        "weighted",
        "winner",
    ]
    given = invoke(project.path, "retrain", "--backtest", "--points", "3", "--window", "400")
    found = project.backtest(points=3, window="400")
    assert found.strategies == ("all", "window", "weighted")
    assert table_rows(given.stdout)[-1][2:5] == [f"{found.mean[s]:.4f}" for s in found.strategies]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--window", "90days"],
            "--window '90days' is neither a duration nor a number of rows; give a number and "
            "a unit (s, m, h, d) such as 90d, or the newest rows to keep, such as 5000",
        ),
        (["--window", "0"], "--window '0' is neither a duration nor a number of rows"),
        (
            ["--strategy", "newest"],
            "--strategy 'newest' is not a strategy; give all (every row), window (the newest, "
            "see --window) or weighted (recent rows count more, see --half-life)",
        ),
        (
            ["--backtest", "--strategy", "window"],
            "--backtest replays every strategy (all, window, weighted) side by side, so "
            "--strategy window does not go with it",
        ),
        (["--points", "3", "--html", "b.html"], "--points, --html only go with --backtest"),
        (["--half-life", "2 weeks"], "--half-life '2 weeks' is not a duration"),
        (["--backtest", "--horizon", "soon"], "--horizon 'soon' is not a duration"),
    ],
)
def test_options_it_cannot_take_are_refused_naming_option_value_and_what_is_allowed(
    tmp_path: Path, write_project: WriteProject, args: list[str], message: str
) -> None:
    folder = write_project(tmp_path / "toy", f"sqlite:///{tmp_path / 'prodml.db'}")
    assert message in error_line(invoke(folder, "retrain", *args))
    with prodml.Project(folder) as project:
        assert project.runs() == []  # refused before anything was fitted


def test_help_teaches_the_exit_codes_and_gives_examples() -> None:
    result = runner.invoke(app, ["retrain", "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "Exit code 0 when the candidate passed its audit, 1 when it failed it" in text
    for example in ("prodml retrain --backtest", "prodml retrain loans --strategy window"):
        assert example in text
    assert "all|window|weighted" in text


def test_the_readme_s_retrain_commands_parse() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    lines = re.findall(r"^prodml retrain (.*?)\s+#", readme, flags=re.M)
    assert len(lines) == 2
    command = get_command(app).commands["retrain"]  # type: ignore[attr-defined]
    for line in lines:
        context = command.make_context("retrain", shlex.split(line))
        assert context.params["backtest"] == ("--backtest" in line)
