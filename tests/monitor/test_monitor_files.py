"""Monitoring data that did not come through a server, with the real ``prodml`` command:
a file with feature drift planted from a known row and a label change from another,
replayed through ``prodml monitor FILE`` and through ``prodml predict --log``,
``prodml feedback`` and ``prodml monitor``; ``prodml data drift A B``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import accuracy_score

import prodml

PRODML = Path(sys.executable).parent / "prodml"
ROWS, SHIFT_AT, CONCEPT_AT, WINDOW = 6_000, 3_000, 4_500, 500
DRIFTED = ["mean_radius", "worst_texture"]  # shifted from row SHIFT_AT on
#: A change in the error rate is found at most this many rows after it began.
FOUND_WITHIN = 300


def prodml_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODML_", "FORCE_COLOR"))}
    return subprocess.run(
        [str(PRODML), *args],
        cwd=cwd,
        env={**env, "NO_COLOR": "1", "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}:\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The breast-cancer example, fitted and registered, in windows of WINDOW rows."""
    folder = prodml.init(tmp_path_factory.mktemp("files") / "bc", example="breast-cancer")
    with open(folder / "prodml.yaml", "a", encoding="utf-8") as file:
        file.write(
            f"monitor:\n  window: {WINDOW}\n  alerts:\n"
            "    - {metric: concept_change, above: 0}\n    - {metric: accuracy, below: 0.9}\n"
        )
    with prodml.Project(folder) as opened:
        run = opened.fit()
        opened.register(run.id, force=True, reason="a test")
    return folder


@pytest.fixture(scope="module")
def planted(project: Path) -> Path:
    """ROWS rows drawn from the example's (a little noise apiece, so no two are equal):
    from SHIFT_AT, DRIFTED move (mean_radius 30% larger, worst_texture one standard
    deviation up); from CONCEPT_AT, 40% of the diagnoses are the other one."""
    rng = np.random.default_rng(3)
    source = pd.read_csv(project / "data" / "breast_cancer.csv")
    rows = source.iloc[rng.integers(0, len(source), ROWS)].reset_index(drop=True)
    features = [c for c in rows.columns if c not in ("patient_id", "diagnosis")]
    rows[features] = rows[features] * (1 + rng.normal(0, 0.002, (ROWS, len(features))))
    rows.loc[SHIFT_AT:, "mean_radius"] *= 1.3
    rows.loc[SHIFT_AT:, "worst_texture"] += rows["worst_texture"].std()
    flip = (np.arange(ROWS) >= CONCEPT_AT) & (rng.random(ROWS) < 0.4)
    other = {"benign": "malignant", "malignant": "benign"}
    rows.loc[flip, "diagnosis"] = rows.loc[flip, "diagnosis"].map(other)
    rows["patient_id"] = [f"p{i}" for i in range(ROWS)]
    file = project / "planted.csv"
    rows.to_csv(file, index=False)
    return file


def check_windows(windows: list[dict[str, Any]], truth: pd.Series, said: pd.Series) -> None:
    """The planted drift found where it is and nowhere else; accuracy as scikit-learn's."""
    assert [(w["first_row"], w["last_row"]) for w in windows] == [
        (start, start + WINDOW - 1) for start in range(0, ROWS, WINDOW)
    ]
    for w in windows:
        expected = DRIFTED if w["first_row"] >= SHIFT_AT else []
        assert w["drifted"] == expected, w
        rows = slice(w["first_row"], w["last_row"] + 1)
        assert w["accuracy"] == pytest.approx(accuracy_score(truth[rows], said[rows]))


def check_change_points(points: list[dict[str, Any]]) -> None:
    """No change found before any was planted; the label change found soon after it."""
    assert all(p["found_at_row"] >= SHIFT_AT for p in points), points
    assert any(
        CONCEPT_AT <= p["found_at_row"] <= CONCEPT_AT + FOUND_WITHIN
        and p["began_at_row"] >= CONCEPT_AT - FOUND_WITHIN
        for p in points
    ), points


@pytest.fixture(scope="module")
def scored(project: Path, planted: Path) -> Path:
    """The planted file through prodml predict --log and prodml feedback; its scores."""
    scores = project / "scored.csv"
    batch = json.loads(
        succeeded(
            prodml_command(
                "predict", str(planted), "-o", str(scores), "--log", "--json", cwd=project
            )
        )
    )
    assert batch["logged"] == ROWS
    labels = ("--id-column", "patient_id", "--label-column", "diagnosis")
    succeeded(prodml_command("feedback", str(planted), *labels, cwd=project))
    return scores


def test_a_file_and_a_logged_batch_find_the_planted_drift_and_the_label_change(
    project: Path, planted: Path, scored: Path
) -> None:
    truth = pd.read_csv(planted)["diagnosis"]
    said = pd.read_csv(scored)["prediction"]

    # prodml monitor FILE: scored by the model, in a store of its own
    alone = json.loads(succeeded(prodml_command("monitor", str(planted), "--json", cwd=project)))
    assert alone["rows"] == ROWS and alone["model"] == "breast-cancer:1"
    check_windows(alone["windows"], truth, said)
    check_change_points(alone["change_points"])

    # prodml predict --log, prodml feedback, prodml monitor: the project's log
    done = json.loads(succeeded(prodml_command("monitor", "--json", cwd=project)))
    with prodml.Project(project) as opened:
        logged = list(opened.monitoring.logged("breast-cancer"))
    assert [r.request_id for r in logged] == [f"p{i}" for i in range(ROWS)]
    row = {r.id: int(r.request_id[1:]) for r in logged}  # log id: the file's row
    drifted: dict[int, list[str]] = {}
    for s in done["scores"]:
        if s["kind"] == "drift" and s["drifted"]:
            drifted.setdefault(s["window_id"], []).append(s["column"])
    windows = [
        {
            "first_row": row[w["first_id"]],
            "last_row": row[w["last_id"]],
            "drifted": sorted(drifted.get(w["id"], [])),
            "accuracy": w["metrics"]["accuracy"],
        }
        for w in done["windows"]
    ]
    check_windows(windows, truth, said)
    points = [
        {
            "detector": p["detector"],
            "began_at_row": row[p["started_id"]],
            "found_at_row": row[p["detected_id"]],
        }
        for p in done["change_points"]
    ]
    check_change_points(points)
    assert points == [
        {k: p[k] for k in ("detector", "began_at_row", "found_at_row")}
        for p in alone["change_points"]
    ]


def test_the_report_lists_every_window_with_alerts_accuracy_and_change_points(
    project: Path, scored: Path
) -> None:
    succeeded(prodml_command("monitor", cwd=project))
    found = json.loads(succeeded(prodml_command("monitor", "report", "--json", cwd=project)))
    assert len(found["windows"]) == ROWS // WINDOW
    points = found["change_points"]
    # named by the data's id (the request id a batch logs) as well as by log id
    assert {p["detected_request"] for p in points} == {f"p{p['detected_id'] - 1}" for p in points}
    concept = [a for a in found["alerts"] if a["metric"] == "concept_change"]
    first = min(p["detected_id"] for p in points)
    (where,) = [w for w in found["windows"] if w["first_id"] <= first <= w["last_id"]]
    assert concept[-1]["window_id"] == where["id"]  # the oldest: where the change was found
    assert "concept_change > 0" in where["alerts"]
    assert all(a["resolved_window_id"] for a in concept if a["resolved_at"])

    table = succeeded(prodml_command("monitor", "report", "--last", "3", cwd=project))
    assert all(len(line) <= 80 for line in table.splitlines()), table
    shown = [line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│ ")]
    newest = [str(w["id"]) for w in found["windows"][-3:]]
    assert shown[:3] == newest
    assert f"began at request p{points[0]['started_id'] - 1}" in " ".join(table.split())
    assert "alert history" in table


def test_close_scores_the_open_window_of_a_batch_as_partial(project: Path, scored: Path) -> None:
    succeeded(prodml_command("monitor", cwd=project))
    rows = pd.read_csv(project / "planted.csv").head(120)
    extra = project / "extra.csv"
    rows.assign(patient_id=[f"q{i}" for i in range(120)]).to_csv(extra, index=False)
    succeeded(
        prodml_command("predict", str(extra), "-o", str(project / "x.csv"), "--log", cwd=project)
    )
    waiting = json.loads(succeeded(prodml_command("monitor", "--json", cwd=project)))
    assert waiting["windows"] == []  # 120 of 500: the window is open
    closed = json.loads(succeeded(prodml_command("monitor", "--close", "--json", cwd=project)))
    (window,) = closed["windows"]
    assert (window["rows"], window["metrics"]["partial"]) == (120, 1)
    wrong = prodml_command("monitor", "--close", "--every", "60s", cwd=project)
    assert wrong.returncode == 1 and "--close" in wrong.stderr
    assert len(wrong.stderr.splitlines()) == 1


def test_monitor_file_prints_its_windows_at_80_columns(project: Path, planted: Path) -> None:
    out = succeeded(prodml_command("monitor", str(planted), cwd=project))
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "3000-3499" in out and "mean_radius, worst_texture" in out
    assert "error rate changed" in out


def test_data_drift_compares_two_files_by_the_monitor_rule(project: Path, planted: Path) -> None:
    rows = pd.read_csv(planted)
    before, after = project / "before.csv", project / "after.parquet"
    rows.iloc[:SHIFT_AT].to_csv(before, index=False)
    rows.iloc[SHIFT_AT:CONCEPT_AT].to_parquet(after, index=False)
    found = json.loads(
        succeeded(prodml_command("data", "drift", str(before), str(after), "--json", cwd=project))
    )
    assert "patient_id" not in found["scores"]
    assert sorted(c for c, s in found["scores"].items() if s["drifted"]) == DRIFTED
    independent = ks_2samp(rows["mean_radius"][:SHIFT_AT], rows["mean_radius"][SHIFT_AT:CONCEPT_AT])
    assert found["scores"]["mean_radius"]["score"] == pytest.approx(independent.statistic)
    table = succeeded(prodml_command("data", "drift", str(before), str(after), cwd=project))
    assert all(len(line) <= 80 for line in table.splitlines())


def test_monitor_file_mistakes_are_one_line(project: Path, planted: Path) -> None:
    missing = prodml_command("monitor", "nowhere.csv", cwd=project)
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")
    assert "nowhere.csv" in missing.stderr and len(missing.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "command", [("data", "drift"), ("monitor", "any.csv"), ("predict",), ("monitor",)]
)
def test_help_teaches_files_and_batches(tmp_path: Path, command: tuple[str, ...]) -> None:
    out = succeeded(prodml_command(*command, "--help", cwd=tmp_path))
    assert "Example" in out
    assert {
        ("data", "drift"): "by the monitor's rule",
        ("monitor", "any.csv"): "counted from 0",
        ("predict",): "--log",
        ("monitor",): "prodml monitor FILE",
    }[command] in " ".join(out.split())
