"""The ``prodml`` command, driven as a user drives it: the real executable in a project folder.

Every command here is a separate process, so what is pinned is what a user sees: exit
codes, one ``error:`` line instead of a traceback, ``--help`` with examples, and JSON
that agrees with the files and models it describes. Setting up runs goes through the
Python API where the command itself is not what is tested (it is the same call, faster).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import accuracy_score

import prodml
from prodml.config import ModelSpec
from prodml.errors import IntegrityError

PRODML = Path(sys.executable).parent / "prodml"
TIMEOUT = 180  # seconds for one command; a fit of the examples takes a few
#: The tour's thirteen steps fit about twenty models and serve thousands of requests: about
#: a minute on a quiet machine, three or four when others' tests share its two cores.
DEMO_TIMEOUT = 360

Result = subprocess.CompletedProcess[str]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a command: the default store in .prodml/, no colour codes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODML_", "FORCE_COLOR"))}
    return {**env, "NO_COLOR": "1", "COLUMNS": "120", **extra}


def prodml_command(*args: str, cwd: Path, columns: int = 120, timeout: float = TIMEOUT) -> Result:
    return subprocess.run(
        [str(PRODML), *args],
        cwd=cwd,
        env=child_env(COLUMNS=str(columns)),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def succeeded(result: Result) -> Result:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}:\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr
    return result


def error_line(result: Result) -> str:
    """The one ``error:`` line a failed command prints, after checking that it is one."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == 1, f"{result.args} exited {result.returncode}:\n{result.stderr}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"stderr is not one line:\n{result.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def table_rows(text: str) -> list[list[str]]:
    """The cells of every table row in ``text``, after checking that no row is cut at the
    terminal's edge (a row that starts with a border ends with one)."""
    rows = []
    for line in text.splitlines():
        line = line.rstrip()
        if line[:1] in ("│", "┃"):
            assert line[-1] in ("│", "┃"), f"a table row is cut at the edge: {line!r}"
            rows.append([cell.strip() for cell in re.split("[│┃]", line)[1:-1]])
    return rows


def readable(text: str, columns: int) -> list[list[str]]:
    """The table rows of ``text``, after checking that it fits ``columns`` and that no cell
    was shortened with an ellipsis."""
    too_long = [line for line in text.splitlines() if len(line) > columns]
    assert not too_long, f"lines wider than {columns} columns: {too_long[:3]}"
    rows = table_rows(text)
    cut = [cell for row in rows for cell in row if cell.endswith("…")]
    assert not cut, f"cells cut at {columns} columns: {cut[:10]}"
    return rows


def replace_setting(project: Path, old: str, new: str) -> None:
    """Edit ``prodml.yaml`` as a user would: change one setting line, keep the comments."""
    file = project / "prodml.yaml"
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if old in line and not line.lstrip().startswith("#")]
    assert len(hits) == 1, f"{old!r} is on {len(hits)} setting lines of {file}"
    lines[hits[0]] = lines[hits[0]].replace(old, new)
    file.write_text("".join(lines), encoding="utf-8")


def set_settings(project: Path, **settings: Any) -> None:
    """Replace top-level keys of ``prodml.yaml`` (its comments are lost)."""
    file = project / "prodml.yaml"
    raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    file.write_text(yaml.safe_dump({**raw, **settings}, sort_keys=False), encoding="utf-8")


def artifact(run: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [a for a in run["artifacts"] if a["name"] == name]
    assert len(found) == 1, f"run {run['id']} has {len(found)} artifacts named {name}"
    return found[0]


def local_file(uri: str) -> Path:
    parsed = urlparse(uri)
    assert parsed.scheme in ("", "file"), uri
    return Path(url2pathname(parsed.path))


pytestmark = pytest.mark.usefixtures("default_store")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A breast-cancer project made by ``prodml init``, never run in: tests copy it."""
    root = tmp_path_factory.mktemp("template")
    succeeded(prodml_command("init", "breast-cancer", "--example", "breast-cancer", cwd=root))
    return root / "breast-cancer"


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the breast-cancer project, with no runs."""
    return Path(shutil.copytree(template, tmp_path / "breast-cancer"))


@pytest.fixture(scope="module")
def fitted(template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A breast-cancer project after one ``prodml fit --json``, and that run as printed."""
    folder = Path(shutil.copytree(template, tmp_path_factory.mktemp("fitted") / "breast-cancer"))
    result = succeeded(prodml_command("fit", "--json", cwd=folder))
    run: dict[str, Any] = json.loads(result.stdout)
    return folder, run


# --- help -------------------------------------------------------------------------------

HELP_COMMANDS: list[tuple[str, ...]] = [
    (),
    ("init",),
    ("demo",),
    ("fit",),
    ("evaluate",),
    ("predict",),
    ("data",),
    ("data", "validate"),
    ("data", "split"),
    ("data", "labels"),
    ("data", "diff"),
    ("data", "profile"),
    ("runs",),
    ("runs", "list"),
    ("runs", "show"),
    ("runs", "compare"),
    ("models",),
    ("models", "register"),
    ("models", "list"),
    ("models", "show"),
    ("keys",),
    ("keys", "create"),
    ("keys", "list"),
    ("keys", "revoke"),
    ("automation",),
    ("review",),
    ("review", "list"),
    ("review", "next"),
    ("review", "answer"),
    ("review", "export"),
    ("review", "import"),
]


@pytest.fixture(scope="module")
def helps(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], Result]:
    """``--help`` of every command at 80 columns, run side by side (each process takes
    seconds to start)."""
    cwd = tmp_path_factory.mktemp("help")
    with contextlib.ExitStack() as stack:
        started = {
            command: stack.enter_context(
                subprocess.Popen(
                    [str(PRODML), *command, "--help"],
                    cwd=cwd,
                    env=child_env(COLUMNS="80"),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            for command in HELP_COMMANDS
        }
        try:
            results = {}
            for command, process in started.items():
                out, err = process.communicate(timeout=TIMEOUT)
                results[command] = Result(process.args, process.returncode, out, err)
        finally:
            for process in started.values():
                if process.poll() is None:
                    process.kill()
    return results


def help_params() -> list[Any]:
    return [pytest.param(c, id=" ".join(("prodml", *c))) for c in HELP_COMMANDS]


@pytest.mark.parametrize("command", help_params())
def test_help_of_every_command_exits_0_with_its_usage(
    helps: dict[tuple[str, ...], Result], command: tuple[str, ...]
) -> None:
    result = succeeded(helps[command])

    assert f"Usage: {' '.join(('prodml', *command))}" in result.stdout


@pytest.mark.parametrize("command", help_params())
def test_help_text_is_wrapped_at_the_terminal_width_not_where_the_source_breaks_lines(
    helps: dict[tuple[str, ...], Result], command: tuple[str, ...]
) -> None:
    out = helps[command].stdout
    text = out.split("Usage:", 1)[1].split("\n", 1)[1].split("╭", 1)[0]
    lines = [line.strip() for line in text.splitlines()]
    # Rich prints the text 78 columns wide (a space each side): a line ends early only
    # when the next word would not have fitted, or where a paragraph ends
    for line, after in itertools.pairwise(lines):
        if line and after:
            assert len(line) + 1 + len(after.split()[0]) > 78, f"{line!r} then {after!r}"


@pytest.mark.parametrize("command", help_params())
def test_help_of_every_command_shows_an_example(
    helps: dict[tuple[str, ...], Result], command: tuple[str, ...]
) -> None:
    assert "Example" in helps[command].stdout


# --- bad input: one error line, exit code 1 ---------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "target: diagnosis",
            "target: diagnosys",
            [
                "data.target 'diagnosys' is not a column",
                "columns are: patient_id",
                "did you mean 'diagnosis'?",
            ],
            id="unknown-target",
        ),
        pytest.param(
            "sklearn.linear_model.LogisticRegression",
            "sklearn.linear_model.LogisticRegresion",
            [
                ".factory 'sklearn.linear_model.LogisticRegresion'",
                "did you mean 'LogisticRegression'?",
            ],
            id="unknown-factory",
        ),
        pytest.param(
            "source: data/breast_cancer.csv",
            "source: data/missing.csv",
            ["data.source 'data/missing.csv' does not exist"],
            id="missing-data-file",
        ),
    ],
)
def test_a_mistake_in_the_project_file_is_one_error_line_naming_key_and_value(
    project: Path, old: str, new: str, expected: list[str]
) -> None:
    replace_setting(project, old, new)

    line = error_line(prodml_command("fit", cwd=project))

    for words in expected:
        assert words in line


def test_malformed_yaml_is_one_error_line_saying_where(project: Path) -> None:
    replace_setting(project, "model:", "model: [unclosed")

    line = error_line(prodml_command("fit", cwd=project))

    assert "prodml.yaml is not valid YAML" in line
    assert re.search(r"line \d+, column \d+", line), line


def small_project(folder: Path, frame: pd.DataFrame, data: dict[str, Any]) -> Path:
    """A project over a CSV written here, with a decision tree."""
    (folder / "data").mkdir(parents=True)
    frame.to_csv(folder / "data" / "rows.csv", index=False)
    settings = {
        "project": "split-checks",
        "data": {"source": "data/rows.csv", "target": "label", **data},
        "model": {"factory": "sklearn.tree.DecisionTreeClassifier"},
    }
    (folder / "prodml.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return folder


def test_a_time_split_whose_test_part_lacks_a_class_is_one_error_line(tmp_path: Path) -> None:
    days = pd.date_range("2024-01-01", periods=90, freq="D")
    # "yes" only in January and February; the test set starts in March
    label = np.where((np.arange(90) < 60) & (np.arange(90) % 2 == 1), "yes", "no")
    frame = pd.DataFrame({"day": days.strftime("%Y-%m-%d"), "x": np.arange(90.0), "label": label})
    folder = small_project(
        tmp_path / "p",
        frame,
        {"time": "day", "split": {"method": "time", "test_after": "2024-03-01"}},
    )

    line = error_line(prodml_command("fit", cwd=folder))

    assert "data.split leaves class 'yes' out of the test set" in line
    assert "test_after" in line


def test_a_class_with_one_row_in_a_stratified_split_is_one_error_line(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(41.0), "label": ["a"] * 20 + ["b"] * 20 + ["rare"]})
    folder = small_project(tmp_path / "p", frame, {"split": {"method": "stratified"}})

    line = error_line(prodml_command("fit", cwd=folder))

    assert "data.split leaves class 'rare' out of the test set" in line
    assert "1 row" in line


def test_init_into_a_folder_that_is_not_empty_refuses_and_keeps_it(tmp_path: Path) -> None:
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")

    line = error_line(prodml_command("init", "taken", "--example", "breast-cancer", cwd=tmp_path))

    assert f"folder {folder.resolve()} is not empty" in line
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_init_with_an_unknown_example_suggests_the_closest(tmp_path: Path) -> None:
    line = error_line(prodml_command("init", "new", "--example", "lons", cwd=tmp_path))

    assert "example 'lons' is not known" in line
    assert "breast-cancer, digits, loans" in line
    assert "did you mean 'loans'?" in line
    assert not (tmp_path / "new").exists()


def test_runs_show_of_an_unknown_run_is_one_error_line(fitted: tuple[Path, dict[str, Any]]) -> None:
    folder, _ = fitted

    line = error_line(prodml_command("runs", "show", "zzzz", cwd=folder))

    assert "run 'zzzz' is not in the store" in line


def test_a_project_may_fit_its_own_scikit_learn_estimator(project: Path) -> None:
    (project / "majority.py").write_text(
        "import numpy as np\n"
        "from sklearn.base import BaseEstimator, ClassifierMixin\n\n\n"
        "class Majority(ClassifierMixin, BaseEstimator):\n"
        "    def fit(self, X, y):\n"
        "        values, counts = np.unique(y, return_counts=True)\n"
        "        self.classes_, self.label_ = values, values[counts.argmax()]\n"
        "        return self\n\n"
        "    def predict(self, X):\n"
        "        return np.full(len(X), self.label_)\n",
        encoding="utf-8",
    )
    set_settings(project, model={"factory": "majority.Majority"})

    result = succeeded(prodml_command("fit", "--json", cwd=project))

    assert json.loads(result.stdout)["status"] == "finished"


# --- fit, search, sanity ------------------------------------------------------------------


def test_fit_json_prints_the_finished_run_with_its_artifact_data_and_params(
    fitted: tuple[Path, dict[str, Any]],
) -> None:
    folder, run = fitted

    assert (run["kind"], run["status"], run["error"]) == ("fit", "finished", None)
    model = artifact(run, "model")
    assert re.fullmatch(r"[0-9a-f]{64}", model["sha256"])
    assert hashlib.sha256(local_file(model["uri"]).read_bytes()).hexdigest() == model["sha256"]
    with prodml.Project(folder) as api:
        assert run["data_fingerprint"] == api.load_data().fingerprint
    assert run["data_source"] == "data/breast_cancer.csv"
    assert run["data_rows"] == len(pd.read_csv(folder / "data" / "breast_cancer.csv"))
    assert run["params"]["logisticregression__max_iter"] == 1000  # from prodml.yaml
    assert run["params"]["logisticregression__C"] == 1.0


def test_fit_test_accuracy_is_that_of_the_saved_model_on_the_test_rows(
    fitted: tuple[Path, dict[str, Any]],
) -> None:
    folder, run = fitted
    frame = pd.read_csv(folder / "data" / "breast_cancer.csv")
    assignment = np.load(local_file(artifact(run, "split")["uri"]), allow_pickle=False)
    assert assignment.dtype == np.int8 and assignment.shape == (len(frame),)
    test = frame.iloc[np.flatnonzero(assignment == 2)]
    assert len(test) == run["split"]["sizes"]["test"]

    with prodml.Project(folder) as api:
        model = api.load_model(run["id"])
    predicted = model.predict(test.drop(columns=["diagnosis", "patient_id"]))

    assert run["metrics"]["test.accuracy"] == accuracy_score(test["diagnosis"], predicted)


def test_fit_search_makes_a_child_run_per_candidate_and_keeps_the_best(project: Path) -> None:
    search = {
        "method": "grid",
        # without the model's default C = 1, a search that kept the default would show
        "params": {"logisticregression__C": [0.01, 0.1, 10.0]},
        "cv": 3,
        "scoring": "roc_auc",
    }
    set_settings(project, search=search)

    parent = json.loads(succeeded(prodml_command("fit", "--search", "--json", cwd=project)).stdout)
    listed = prodml_command("runs", "list", "--parent", parent["id"], "--json", cwd=project)
    children = json.loads(succeeded(listed).stdout)

    assert (parent["kind"], parent["status"]) == ("search", "finished")
    assert sorted(c["params"]["logisticregression__C"] for c in children) == [0.01, 0.1, 10.0]
    assert {(c["kind"], c["status"], c["parent_id"]) for c in children} == {
        ("candidate", "finished", parent["id"])
    }
    best = max(children, key=lambda c: c["metrics"]["cv.roc_auc.mean"])
    assert parent["params"] == best["params"]
    assert artifact(parent, "model")["sha256"]


def test_fit_search_shows_the_best_score_so_far_and_the_whole_search_s_time(
    project: Path,
) -> None:
    # the last candidate (C = 1e-6: the majority class) is the worst
    search = {"method": "grid", "params": {"logisticregression__C": [1.0, 1e-6]}, "cv": 3}
    set_settings(project, search={**search, "scoring": "accuracy"})

    out = succeeded(prodml_command("fit", "--search", cwd=project)).stdout
    (parent,) = json.loads(succeeded(prodml_command("runs", "list", "--json", cwd=project)).stdout)
    listed = prodml_command("runs", "list", "--parent", parent["id"], "--json", cwd=project)
    scores = {
        c["params"]["logisticregression__C"]: c["metrics"]["cv.accuracy.mean"]
        for c in json.loads(succeeded(listed).stdout)
    }

    assert scores[1e-6] < scores[1.0]
    assert f"best {scores[1.0]:.4f} with {{'logisticregression__C': 1.0}}" in out
    refit = parent["metrics"]["search.refit_seconds"]
    assert f"in {parent['fit_seconds']:.2f}s (the refit {refit:.2f}s)" in out


@pytest.mark.parametrize(
    ("factory", "code", "verdict"),
    [
        ("sklearn.tree.DecisionTreeClassifier", 0, "it can learn from these features"),
        ("sklearn.dummy.DummyClassifier", 1, "it cannot even memorise a small subset"),
    ],
)
def test_fit_sanity_says_whether_the_model_can_overfit_a_small_subset(
    project: Path, factory: str, code: int, verdict: str
) -> None:
    set_settings(project, model={"factory": factory})

    result = prodml_command("fit", "--sanity", cwd=project)

    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert verdict in " ".join(result.stdout.split())


def test_a_tampered_model_artifact_is_refused(project: Path) -> None:
    with prodml.Project(project) as api:
        run = api.fit()
        api.load_model(run.id)  # loads while untouched
        file = local_file(run.artifact("model").uri)
        file.write_bytes(file.read_bytes() + b"\0")

        with pytest.raises(IntegrityError, match="was changed after it was saved"):
            api.load_model(run.id)


# --- runs -------------------------------------------------------------------------------


def test_runs_compare_without_runs_compares_the_two_newest_fits(project: Path) -> None:
    with prodml.Project(project) as api:
        api.fit(ModelSpec(factory="sklearn.dummy.DummyClassifier"))  # third newest: left out
        older = api.fit(ModelSpec(factory="sklearn.tree.DecisionTreeClassifier"))
        newer = api.fit()
        api.sanity(rows=20)  # the newest run, but not a fit

    comparison = json.loads(
        succeeded(prodml_command("runs", "compare", "--json", cwd=project)).stdout
    )

    assert sorted(comparison["runs"]) == sorted([older.id, newer.id])
    (models,) = [r for r in comparison["rows"] if (r["section"], r["name"]) == ("run", "model")]
    assert sorted(models["values"]) == sorted(
        ["sklearn.tree.DecisionTreeClassifier", "sklearn.pipeline.make_pipeline"]
    )
    assert models["differs"] is True


def test_runs_show_finds_a_run_by_a_unique_prefix_of_its_id(project: Path) -> None:
    with prodml.Project(project) as api:
        first = api.fit(ModelSpec(factory="sklearn.dummy.DummyClassifier"))
        api.fit()  # the newest, which `runs show` without an id would pick

    shown = json.loads(
        succeeded(prodml_command("runs", "show", first.id[:6], "--json", cwd=project)).stdout
    )

    assert shown["id"] == first.id
    assert shown["model_spec"]["factory"] == "sklearn.dummy.DummyClassifier"


def test_runs_show_names_every_metric_in_full(fitted: tuple[Path, dict[str, Any]]) -> None:
    folder, run = fitted

    result = succeeded(prodml_command("runs", "show", run["id"], cwd=folder))

    assert run["id"] in result.stdout
    assert "recall[malignant]" in result.stdout


def test_loans_example_from_init_to_fit_search_and_compare(tmp_path: Path) -> None:
    succeeded(prodml_command("init", "loans", "--example", "loans", cwd=tmp_path))
    project = tmp_path / "loans"
    # The example's grid (2 x 2, 3 folds) takes half a minute on two cores; two
    # candidates on two folds go through the same steps.
    raw = yaml.safe_load((project / "prodml.yaml").read_text(encoding="utf-8"))
    set_settings(project, search={**raw["search"], "params": {"max_leaf_nodes": [15, 31]}, "cv": 2})

    fit = succeeded(prodml_command("fit", cwd=project))
    search = succeeded(prodml_command("fit", "--search", cwd=project))
    compared = succeeded(prodml_command("runs", "compare", cwd=project))

    fit_id = re.search(r"Run (\w+) finished \(fit\)", fit.stdout)
    search_id = re.search(r"Run (\w+) finished \(search\)", search.stdout)
    assert fit_id and search_id, fit.stdout + search.stdout
    assert fit_id[1] in compared.stdout
    assert search_id[1] in compared.stdout


# --- evaluate -----------------------------------------------------------------------------


def test_evaluate_prints_json_writes_html_and_stores_the_verdict(
    fitted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    folder, run = fitted
    page = tmp_path / "report.html"
    result = succeeded(
        prodml_command(
            "evaluate",
            run["id"][:6],
            "--json",
            "--html",
            str(page),
            "--sign-off",
            "Ana Ruiz: slices checked",
            cwd=folder,
        )
    )
    printed = json.loads(result.stdout)

    assert printed["run"] == run["id"] and printed["audit"] == {"passed": True, "rules": []}
    assert printed["sign_off"]["by"] == "Ana Ruiz"
    # the run's test accuracy, as recorded at fit time, is the evaluation's accuracy
    assert printed["metrics"]["accuracy"] == run["metrics"]["test.accuracy"]
    with prodml.Project(folder) as project:
        stored = project.evaluations(run["id"])
    assert stored[0].result == printed and stored[0].passed
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "http" not in text and "<svg" in text


def test_evaluate_at_80_columns_shows_whole_numbers_and_wide_shows_every_column(
    loans: Path,
) -> None:
    printed = json.loads(succeeded(prodml_command("evaluate", "--json", cwd=loans)).stdout)
    narrow = succeeded(prodml_command("evaluate", cwd=loans, columns=80)).stdout
    wide = succeeded(prodml_command("evaluate", "--wide", cwd=loans, columns=80)).stdout

    rows = readable(narrow, 80)
    model = next(row for row in rows if row[0] == "model")
    assert model[1] == f"{printed['metrics'][printed['focus']]:.4f}"
    top = printed["slices"][0]
    assert next(row for row in rows if row[0] == top["name"])[1] == f"{top['value']:.4f}"
    assert "(--wide shows them)" in " ".join(narrow.split())
    headers = [cell for row in table_rows(wide) for cell in row]
    for metric in ("accuracy", "recall[1]", "precision[1]", "f1[1]", "roc_auc", "pr_auc"):
        assert metric in headers
    assert {"95% CI", "errors"} <= set(headers)
    assert "--wide shows them" not in wide


def test_runs_and_models_lists_at_80_columns_keep_ids_and_names_whole(loans: Path) -> None:
    name = "loans-gradient-boosting-approvals"
    succeeded(prodml_command("models", "register", "--name", name, cwd=loans))
    runs = json.loads(succeeded(prodml_command("runs", "list", "--json", cwd=loans)).stdout)

    listed = readable(succeeded(prodml_command("runs", "list", cwd=loans, columns=80)).stdout, 80)
    models = readable(succeeded(prodml_command("models", "list", cwd=loans, columns=80)).stdout, 80)

    assert [row[0] for row in listed[1:]] == [run["id"] for run in runs]
    assert [name, "1", runs[0]["id"]] == models[1][:3]


def test_evaluate_exits_1_when_the_audit_fails(
    fitted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(fitted[0], tmp_path / "audited"))
    with open(folder / "prodml.yaml", "a", encoding="utf-8") as file:
        file.write("evaluate:\n  audit:\n    - {metric: recall, min: 0.999}\n")
    result = prodml_command("evaluate", cwd=folder)

    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "FAIL recall[malignant] >= 0.999" in result.stdout
    assert "Audit failed" in result.stdout


def test_evaluate_errors_are_one_line(fitted: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    folder = fitted[0]
    line = error_line(prodml_command("evaluate", "--sign-off", ":note", cwd=folder))
    assert "names nobody" in line and "name: note" in line
    unsigned = error_line(prodml_command("evaluate", "--sign-off", "Ana Ruiz", cwd=folder))
    assert "sign-off 'Ana Ruiz' has no note" in unsigned and '"name: note"' in unsigned
    missing = error_line(prodml_command("evaluate", "--data", "nowhere.csv", cwd=folder))
    assert "--data 'nowhere.csv' does not exist" in missing


#: What became of step 13's canary, and the two versions' accuracy on its requests.
VERDICT = (
    r"(won|promoted with no guard|rolled back|still a canary)\W[^%]*?the [\d,]+ requests: "
    r"loans:4 (\d+\.\d)% right, loans:1 (\d+\.\d)%"
)
#: The endpoint's primary and candidate after each verdict.
VERDICT_STATE = {
    "won": (4, None),
    "promoted with no guard": (4, None),
    "rolled back": (1, None),
    "still a canary": (1, 4),
}


def test_demo_runs_every_step_and_writes_the_report(tmp_path: Path) -> None:
    result = succeeded(
        prodml_command(
            "demo", "--dir", str(tmp_path / "tour"), cwd=tmp_path, columns=80, timeout=DEMO_TIMEOUT
        )
    )
    readable(result.stdout, 80)  # every table of the tour, at 80 columns

    for step in range(1, 14):
        assert f"Step {step}/13" in result.stdout
    assert "fleiss_kappa" in result.stdout and "Human-level performance: 0.88" in result.stdout
    assert "Baselines side by side" in result.stdout
    assert "rules:rules.py:approve_if_income" in result.stdout
    assert "gender=female & region=" in result.stdout
    assert "gap to HLP x share" in result.stdout
    assert "registered loans:1" in result.stdout and "label 1, model loans:1" in result.stdout
    assert '-> {"predictions": [1]}' in result.stdout or '-> {"predictions": [0]}' in result.stdout
    assert "Audit passed" in result.stdout
    assert (tmp_path / "tour" / "evaluation.html").exists()
    assert "alert fired: drift_share > 0.3" in result.stdout
    assert "drifted features:" in result.stdout and "income" in result.stdout
    assert "POST /feedback stored 2,000 labels" in result.stdout
    assert "Monitoring of loans" in (tmp_path / "tour" / "monitor.html").read_text()
    # step 11: the gate refused the unevaluated version, the shadow answered every request,
    # the rollback loaded nothing, and the guards rolled the worse canary back
    out = " ".join(result.stdout.split())
    assert "prodml deploy loans:2 --shadow is refused: cannot deploy loans:2 was never" in out
    assert "loans:2 (shadow) beside loans:1 (primary), paired, on the 1,000 requests" in out
    # its requests carried gender and region beside the inputs: the comparison is cut by them
    compared = out.split("paired, on the 1,000 requests")[1].split("prodml promote")[0]
    assert "gender=female" in compared and "region=" in compared
    assert "Not sliced" not in compared
    assert "having loaded 0 models" in out
    with prodml.Project(tmp_path / "tour") as project:
        events = project.registry.events("loans")
        last = [e for e in events if e.action == "rollback"][-1]
    assert (last.action, last.version, last.actor) == ("rollback", 3, "canary")
    assert last.reason is not None and last.detail is not None
    guards = last.detail["guards"]
    harmful = last.reason.split()[1]  # "rollback: output 100.00% against ..."
    assert guards[harmful]["statistic"] >= guards[harmful]["threshold"]
    assert all(g["statistic"] < g["threshold"] for g in (guards["error_rate"], guards["slow"]))
    # step 12: partial automation for a 5% target; people answered from the queue
    assert "prodml automation loans partial --target-error 0.05" in out
    with prodml.Project(tmp_path / "tour") as project:
        answered = project.review_queue.items("loans", open_only=False, limit=100_000)
    levels = [(e.detail or {}).get("level") for e in events if e.action == "automation"]
    assert levels == ["partial", "full"]  # step 13 gives the model every answer back
    assert sum(item.done_at is not None for item in answered) == 5
    assert re.search(r"the model decided [\d,]+ \(\d+%\), [\d,]+ went to people", out)
    # step 13: the drift alert for two windows in a row retrained loans:4 into a shadow,
    # which went out as a canary and was promoted by its guards
    assert "retrain triggered (alert drift_share > 0.3 for 2 window(s)): loans:4 passed" in out
    retrained = [e for e in events if e.action == "retrain-triggered"]
    assert len(retrained) == 1 and (retrained[0].detail or {})["rule"] == "drift_share > 0.3"
    moves = [e.action for e in events if e.version == 4]
    assert moves.index("shadow") < moves.index("canary"), moves
    with prodml.Project(tmp_path / "tour") as project:
        deployment = project.registry.deployment("loans")
        params = project.run(project.registry.get("loans:4").run_id).params or {}
    # retrain: {strategy: window, window: 1d}: the day's labelled log, none of the data
    assert (params["retrain.strategy"], params["retrain.rows_from_data"]) == ("window", 0)
    # the guards decide (they may find harm); the verdict says what they did, and whether
    # it won is the two versions on the same labelled requests
    verdict = re.search(VERDICT, out)
    assert verdict is not None, out[-2000:]
    if verdict[1] in ("won", "promoted with no guard"):
        assert (verdict[1] == "won") == (float(verdict[2]) > float(verdict[3]))
    candidate = None if deployment.candidate is None else deployment.candidate.version
    assert (deployment.primary, candidate) == VERDICT_STATE[verdict[1]], moves


# --- data -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loans example after one fit (its schema, profile and data set recorded)."""
    root = tmp_path_factory.mktemp("loans")
    succeeded(prodml_command("init", "loans", "--example", "loans", cwd=root))
    folder = root / "loans"
    with prodml.Project(folder) as project:
        project.fit()
    return folder


def test_data_validate_finds_nothing_in_the_training_data_and_every_planted_anomaly(
    loans: Path,
) -> None:
    frame = pd.read_parquet(loans / "data" / "loans.parquet")
    frame.head(2000).to_csv(loans / "clean.csv", index=False)
    clean = succeeded(prodml_command("data", "validate", "clean.csv", cwd=loans))
    assert "No anomalies" in clean.stdout

    planted = frame.head(500).copy()
    planted = planted.drop(columns=["term_months"]).assign(note="x")
    planted["credit_score"] = planted["credit_score"].astype(object)
    planted.loc[[3, 7, 11], "credit_score"] = "unknown"
    planted.loc[[0, 1], "purpose"] = "yacht"
    planted.to_csv(loans / "planted.csv", index=False)
    result = prodml_command("data", "validate", "planted.csv", "--json", cwd=loans)
    assert result.returncode == 1, result.stderr
    found = {(a["kind"], a["column"]): a for a in json.loads(result.stdout)["anomalies"]}

    assert set(found) == {
        ("missing_column", "term_months"),
        ("wrong_type", "credit_score"),
        ("extra_column", "note"),
        ("unseen_category", "purpose"),
    }
    assert found[("wrong_type", "credit_score")]["count"] == 3
    # rows are named by the data's id column
    ids = frame["application_id"].astype(str)
    assert found[("wrong_type", "credit_score")]["rows"] == [ids[3], ids[7], ids[11]]
    # the server refuses an unseen category (serve.unseen: reject): an error here too
    assert found[("unseen_category", "purpose")]["severity"] == "error"
    assert "yacht" in found[("unseen_category", "purpose")]["message"]
    frame.head(500).assign(purpose="yacht").to_csv(loans / "yachts.csv", index=False)
    assert prodml_command("data", "validate", "yachts.csv", cwd=loans).returncode == 1
    settings = (loans / "prodml.yaml").read_text(encoding="utf-8")
    (loans / "prodml.yaml").write_text(settings + "serve: {unseen: predict}\n", encoding="utf-8")
    try:
        answered = succeeded(prodml_command("data", "validate", "yachts.csv", "--json", cwd=loans))
    finally:
        (loans / "prodml.yaml").write_text(settings, encoding="utf-8")
    (unseen,) = json.loads(answered.stdout)["anomalies"]
    assert (unseen["kind"], unseen["severity"]) == ("unseen_category", "warning")


def test_data_split_counts_add_up_to_the_split_of_the_run(loans: Path) -> None:
    report = json.loads(succeeded(prodml_command("data", "split", "--json", cwd=loans)).stdout)
    with prodml.Project(loans) as project:
        run = project.run()
        assignment = project.runs_store.artifacts.load(run.artifact("split"))
    sizes = {name: int((assignment == i).sum()) for i, name in enumerate(("train", "dev", "test"))}

    assert report["sizes"] == sizes
    for rows in (report["by_label"], *report["by_slice"].values()):
        assert {s: sum(r[s] for r in rows) for s in sizes} == sizes
    assert set(report["by_slice"]) == {"gender", "region"}


def test_data_labels_reports_agreement_equal_to_the_references(loans: Path) -> None:
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import (  # type: ignore[import-untyped]
        aggregate_raters,
        fleiss_kappa,
    )

    result = succeeded(prodml_command("data", "labels", "--json", cwd=loans))
    report = json.loads(result.stdout)
    labels = pd.read_csv(loans / "data" / "underwriters.csv")
    wide = labels.pivot(index="application_id", columns="underwriter", values="decision")
    truth = pd.read_parquet(loans / "data" / "loans.parquet").set_index("application_id")
    correct = (
        labels["decision"].to_numpy() == truth.loc[labels["application_id"], "approved"].to_numpy()
    )

    assert report["agreement"]["fleiss_kappa"]["value"] == pytest.approx(
        fleiss_kappa(aggregate_raters(wide.to_numpy())[0]), abs=1e-12
    )
    assert report["hlp"]["against"] == "truth"
    assert report["hlp"]["value"] == pytest.approx(correct.mean(), abs=1e-12)
    by_labeler = {row["labeler"]: row for row in report["labelers"]}
    for name, group in labels.groupby("underwriter"):
        ok = (
            group["decision"].to_numpy()
            == truth.loc[group["application_id"], "approved"].to_numpy()
        )
        assert by_labeler[name]["truth_accuracy"] == pytest.approx(ok.mean(), abs=1e-12)
    # two of them only: Cohen's kappa as scikit-learn computes it
    labels[labels["underwriter"] != "cho"].to_csv(loans / "two.csv", index=False)
    two = json.loads(
        succeeded(prodml_command("data", "labels", "two.csv", "--json", cwd=loans)).stdout
    )
    assert two["agreement"]["cohen_kappa"]["value"] == pytest.approx(
        cohen_kappa_score(wide["ana"], wide["ben"]), abs=1e-12
    )


def test_data_labels_gives_hlp_by_every_metadata_column_and_writes_the_consensus(
    loans: Path,
) -> None:
    labels = pd.read_csv(loans / "data" / "underwriters.csv")
    data = pd.read_parquet(loans / "data" / "loans.parquet").set_index("application_id")
    given = labels.join(data, on="application_id")
    right = given["decision"] == given["approved"]

    shown = succeeded(
        prodml_command("data", "labels", "--output", "consensus.csv", cwd=loans, columns=80)
    )
    printed = json.loads(succeeded(prodml_command("data", "labels", "--json", cwd=loans)).stdout)
    written = pd.read_csv(loans / "consensus.csv")

    by_slice = {s["slice"]: s["value"] for s in printed["hlp"]["slices"]}
    for column in ("gender", "region"):
        for value, share in right.groupby(given[column]).mean().items():
            assert by_slice[f"{column}={value}"] == pytest.approx(share, abs=1e-12)
    votes = labels.groupby(["application_id", "decision"]).size().unstack(fill_value=0)
    assert len(written) == votes.shape[0] == printed["counts"]["examples"]
    expected = votes.idxmax(axis=1)  # the first of a tie, as the report takes it
    assert written.set_index("example")["label"].to_dict() == expected.to_dict()
    assert "Consensus labels (the first 10 of 3,000" in " ".join(shown.stdout.split())
    assert "Consensus labels of 3,000 examples written to consensus.csv" in shown.stdout
    readable(shown.stdout, 80)


def test_data_diff_shows_what_changed_between_two_data_sets(loans: Path, tmp_path: Path) -> None:
    frame = pd.read_parquet(loans / "data" / "loans.parquet")
    later = frame[frame["applied_at"] >= "2024-10-01"]
    later.to_csv(loans / "later.csv", index=False)
    with prodml.Project(loans) as project:
        before = project.run().data_fingerprint
        evaluation = project.evaluate(data=loans / "later.csv")
    after = evaluation.result["data"]["fingerprint"]
    result = succeeded(prodml_command("data", "diff", str(before)[:10], after[:10], cwd=loans))

    assert f"{len(frame):,} rows" in result.stdout and f"{len(later):,} rows" in result.stdout
    assert "income" in result.stdout
    printed = json.loads(
        succeeded(prodml_command("data", "diff", str(before), after, "--json", cwd=loans)).stdout
    )
    incomes = [
        next(c for c in printed[side]["schema"]["columns"] if c["name"] == "income")
        for side in ("a", "b")
    ]
    assert incomes[0]["quantiles"]["p50"] == pytest.approx(frame["income"].median())
    assert incomes[1]["quantiles"]["p50"] == pytest.approx(later["income"].median())


def test_data_diff_finds_columns_and_categories_that_changed_and_tests_each_column(
    loans: Path,
) -> None:
    from scipy.stats import chi2_contingency

    from prodml.data.dataset import prepare
    from prodml.tracking.workspace import record_dataset

    frame = pd.read_parquet(loans / "data" / "loans.parquet")
    renamed = frame.assign(purpose=frame["purpose"].replace({"car": "auto"}))
    renamed.drop(columns=["term_months"]).assign(note="x").to_parquet(loans / "renamed.parquet")
    with prodml.Project(loans) as project:
        read = pd.read_parquet(loans / "renamed.parquet")
        data = prepare(read, project.settings.data, project.settings.task, "renamed.parquet")
        record_dataset(project.runs_store.database, data)
        before = str(project.run().data_fingerprint)

    diffed = prodml_command("data", "diff", before, data.fingerprint, "--json", cwd=loans)
    printed = json.loads(succeeded(diffed).stdout)
    shown = succeeded(
        prodml_command("data", "diff", before[:10], data.fingerprint[:10], cwd=loans, columns=80)
    ).stdout

    assert printed["columns"] == {"added": ["note"], "removed": ["term_months"], "retyped": []}
    assert printed["categories"] == [{"column": "purpose", "added": ["auto"], "removed": ["car"]}]
    scores = printed["drift"]["scores"]
    counts = pd.concat(
        [frame["purpose"].value_counts(), renamed["purpose"].value_counts()], axis=1
    ).fillna(0)
    expected = chi2_contingency(counts.T.to_numpy(), correction=False)
    assert scores["purpose"]["method"] == "chisquare" and scores["purpose"]["drifted"]
    assert scores["purpose"]["score"] == pytest.approx(expected.statistic, rel=1e-9)
    assert scores["purpose"]["p_value"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    assert (scores["income"]["method"], scores["income"]["score"]) == ("ks", 0.0)
    assert [name for name, score in scores.items() if score["drifted"]] == ["purpose"]
    assert "application_id" not in scores  # the id is not tested
    rows = readable(shown, 80)
    assert "categories added auto; removed car" in " ".join(shown.split())
    assert "columns added in B: note" in shown and "columns removed in B: term_months" in shown
    purpose = next(row for row in rows if row[0] == "purpose")
    assert purpose[-1] == "yes"


def test_data_profile_streams_a_file_and_equals_pandas(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    income = rng.lognormal(10, 0.5, 5_000)
    income[rng.random(5_000) < 0.05] = np.nan
    frame = pd.DataFrame({"income": income, "region": rng.choice(["n", "s", "e", "w"], 5_000)})
    frame.to_csv(tmp_path / "rows.csv", index=False)

    printed = json.loads(
        succeeded(
            prodml_command(
                "data", "profile", "rows.csv", "--chunk-rows", "700", "--json", cwd=tmp_path
            )
        ).stdout
    )
    shown = succeeded(prodml_command("data", "profile", "rows.csv", cwd=tmp_path, columns=80))

    numbers, regions = printed["columns"]["income"], printed["columns"]["region"]
    assert printed["rows"] == 5_000 and "sample" not in numbers
    assert (numbers["count"], numbers["missing"]) == (
        frame["income"].count(),
        frame["income"].isna().sum(),
    )
    assert numbers["mean"] == pytest.approx(frame["income"].mean(), rel=1e-12)
    assert numbers["std"] == pytest.approx(frame["income"].std(), rel=1e-12)
    assert regions["counts"] == frame["region"].value_counts().to_dict()
    rows = readable(shown.stdout, 80)
    assert [row[0] for row in rows[1:]] == ["income", "region"]


# --- models -------------------------------------------------------------------------------


def test_models_register_list_and_show_give_a_version_with_its_lineage(
    fitted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(fitted[0], tmp_path / "registered"))
    run = fitted[1]
    with prodml.Project(folder) as api:
        evaluation = api.evaluate(run["id"])

    registered = json.loads(
        succeeded(prodml_command("models", "register", "--json", cwd=folder)).stdout
    )
    second = succeeded(
        prodml_command("models", "register", run["id"][:6], "--name", "bc-second", cwd=folder)
    )
    listed = json.loads(succeeded(prodml_command("models", "list", "--json", cwd=folder)).stdout)
    table = succeeded(prodml_command("models", "list", cwd=folder))
    shown = json.loads(
        succeeded(prodml_command("models", "show", "breast-cancer", "--json", cwd=folder)).stdout
    )
    page = succeeded(prodml_command("models", "show", "breast-cancer:1", cwd=folder))

    assert registered["ref"] == "breast-cancer:1" and registered["run_id"] == run["id"]
    assert (registered["evaluation_id"], registered["audit_passed"]) == (evaluation.id, True)
    assert registered["primary_of"] == ["breast-cancer"]
    assert "Registered bc-second:1 from run" in second.stdout
    assert [v["ref"] for v in listed] == ["bc-second:1", "breast-cancer:1"]
    for text in (run["id"], run["data_fingerprint"][:12], "pass", "bc-second", "breast-cancer"):
        assert text in table.stdout
    assert shown["data_source"] == run["data_source"] == "data/breast_cancer.csv"
    assert shown["schema_columns"] == len(run["input_schema"]["columns"]) == 30
    assert [(e["action"], e["version"]) for e in shown["events"]] == [
        ("registered", 1),
        ("primary", 1),
    ]
    for text in (run["id"], "30 columns", evaluation.id, "registered", "primary"):
        assert text in page.stdout


def test_fit_register_puts_the_run_it_fitted_in_the_registry(project: Path) -> None:
    said = succeeded(prodml_command("fit", "--register", cwd=project))
    printed = json.loads(
        succeeded(
            prodml_command("fit", "--register", "--name", "bc-json", "--json", cwd=project)
        ).stdout
    )

    fitted_id = re.search(r"Run (\w+) finished \(fit\)", said.stdout)
    assert fitted_id, said.stdout
    assert f"Registered breast-cancer:1 from run {fitted_id[1]}" in said.stdout
    assert (  # a fit is not evaluated, so the audit gate opens no endpoint for it
        f"It serves nowhere: it was never evaluated. Next: prodml evaluate {fitted_id[1][:8]}, "
        "then prodml deploy breast-cancer:1." in " ".join(said.stdout.split())
    )
    assert printed["registered"]["primary_of"] == []
    assert printed["registered"]["ref"] == "bc-json:1"
    assert printed["registered"]["run_id"] == printed["id"] != fitted_id[1]
    with prodml.Project(project) as api:
        assert api.registry.get("breast-cancer").run_id == fitted_id[1]


def test_models_mistakes_are_one_error_line(project: Path) -> None:
    nothing = error_line(prodml_command("models", "register", cwd=project))
    unknown = error_line(prodml_command("models", "show", "breast-cancer", cwd=project))
    alone = prodml_command("fit", "--name", "loans", cwd=project)

    assert "project breast-cancer has no finished fit or search run to register" in nothing
    assert "no model named 'breast-cancer' is registered" in unknown
    assert "`prodml models register`" in unknown
    assert alone.returncode == 2 and "--name is the name to register under" in alone.stderr


# --- predict --------------------------------------------------------------------------------


def test_predict_scores_a_file_with_the_registered_model_as_a_batch_run(project: Path) -> None:
    succeeded(prodml_command("fit", "--register", cwd=project))
    frame = pd.read_csv(project / "data" / "breast_cancer.csv")
    frame.drop(columns=["diagnosis"]).to_parquet(project / "new.parquet")
    result = succeeded(
        prodml_command(
            "predict",
            "new.parquet",
            "-o",
            "scored.csv",
            "--chunk-rows",
            "200",
            "--json",
            cwd=project,
        )
    )
    run = json.loads(result.stdout)
    scored = pd.read_csv(project / "scored.csv")
    assert (  # the version is scored with, but it would not pass the audit gate
        "warning: breast-cancer:1 was never evaluated (run" in " ".join(result.stderr.split())
        and "scored with it all the same" in " ".join(result.stderr.split())
    )

    with prodml.Project(project) as opened:
        model = opened.load_model(opened.registry.get("breast-cancer:1").run_id)
    assert (
        scored["prediction"].tolist()
        == model.predict(frame.drop(columns=["patient_id", "diagnosis"])).tolist()
    )
    assert scored["patient_id"].tolist() == frame["patient_id"].tolist()
    assert run["kind"] == "batch" and run["status"] == "finished" and run["data_rows"] == 569
    assert run["params"]["model"] == "breast-cancer:1"
    assert (
        run["params"]["sha256"] == hashlib.sha256((project / "scored.csv").read_bytes()).hexdigest()
    )

    missing = error_line(
        prodml_command("predict", "new.parquet", "-o", "x.csv", "--model", "nope", cwd=project)
    )
    assert "nope" in missing


def test_log_stats_export_and_prune_agree_with_what_was_logged(project: Path) -> None:
    from prodml.serve.prediction_log import PredictionLog, entry

    with prodml.Project(project) as opened:
        log = PredictionLog(opened.runs_store.database)
        rows = [
            entry(f"r-{i}", "bc", "bc", 1, {"x": float(i)}, {"label": i % 2}, 0.001)
            for i in range(30)
        ]
        log.write(rows).result()
        log.close()
    stats = json.loads(succeeded(prodml_command("log", "stats", "--json", cwd=project)).stdout)
    assert (stats["predictions"], stats["streams"], stats["feedback"]) == (30, 1, 0)
    assert stats["bytes_per_prediction"] > 0

    assert "log.retention" in error_line(prodml_command("log", "prune", cwd=project))
    bad = error_line(prodml_command("log", "prune", "--older-than", "soon", cwd=project))
    assert "'soon' is not a duration" in bad

    archive = project / "archive"
    # nothing is older than a day: nothing written, nothing pruned
    none = prodml_command(
        "log", "export", str(archive), "--older-than", "1d", "--json", cwd=project
    )
    assert json.loads(succeeded(none).stdout)["files"] == []
    # without --older-than: everything logged up to a few seconds ago
    time.sleep(5.5)
    done = prodml_command("log", "export", str(archive), "--prune", "--json", cwd=project)
    (written,) = json.loads(succeeded(done).stdout)["files"]
    frame = pd.read_parquet(written["file"])
    assert frame["request_id"].tolist() == [f"r-{i}" for i in range(30)]
    assert frame["inputs.x"].tolist() == [float(i) for i in range(30)]
    assert frame["outputs"].map(json.loads).tolist() == [{"label": i % 2} for i in range(30)]
    after = json.loads(succeeded(prodml_command("log", "stats", "--json", cwd=project)).stdout)
    assert after["predictions"] == 0


def test_keys_create_shows_the_key_once_list_never_and_revoke_closes_it(project: Path) -> None:
    from prodml.deploy.keys import Keys

    created = succeeded(prodml_command("keys", "create", "ci", "--role", "operator", cwd=project))
    lines = created.stdout.splitlines()
    assert re.fullmatch(r"Created key ci \(id [0-9a-f]{12}, role operator\):", lines[0])
    key = lines[1]
    assert re.fullmatch(r"prodml_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    assert lines[2] == "It will not be shown again: keep it now, e.g. in a secret store."

    listed = succeeded(prodml_command("keys", "list", "--json", cwd=project)).stdout
    (entry,) = json.loads(listed)
    assert set(entry) == {"name", "id", "role", "created_at", "revoked_at"}
    assert (entry["name"], entry["role"], entry["revoked_at"]) == ("ci", "operator", None)
    assert key.split("_", 2)[2] not in listed
    table = succeeded(prodml_command("keys", "list", cwd=project)).stdout
    assert "ci" in table and "operator" in table and key.split("_", 2)[2] not in table
    with prodml.Project(project) as opened:
        assert Keys(opened.runs_store.database).check(f"Bearer {key}", "operator").name == "ci"

    revoked = succeeded(prodml_command("keys", "revoke", "ci", cwd=project))
    assert revoked.stdout.startswith(f"Key ci (id {entry['id']}, role operator) is revoked since")
    (after,) = json.loads(succeeded(prodml_command("keys", "list", "--json", cwd=project)).stdout)
    assert after["revoked_at"] is not None
    again = error_line(prodml_command("keys", "create", "ci", "--role", "admin", cwd=project))
    assert "a key named 'ci' exists (a revoked key keeps its name)" in again
