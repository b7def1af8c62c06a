"""A user's mistakes on the command line or in the project file: one red ``error:`` line and
exit code 1 each, never a traceback.

The commands run in this process through Typer's runner with ``catch_exceptions=False``,
so an exception that escapes a command fails the test with its traceback.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import prodml
from prodml.cli import app
from prodml.errors import MESSAGE_LIMIT, ProdmlError

runner = CliRunner()


def command(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def error_line(*args: str) -> str:
    """The one ``error:`` line of a command that must fail, after checking that it is one."""
    result = command(*args)
    assert "Traceback" not in result.output
    assert result.exit_code == 1, f"{args} exited {result.exit_code}:\n{result.output}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"stderr is not one line:\n{result.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    assert len(lines[0]) <= len("error: ") + MESSAGE_LIMIT
    line: str = lines[0]
    return line


pytestmark = pytest.mark.usefixtures("default_store")


def rows(n: int = 200) -> pd.DataFrame:
    """A colour (text), a number and a label that depends on both."""
    rng = np.random.default_rng(0)
    color = rng.choice(["red", "green", "blue"], n)
    x = rng.normal(size=n)
    label = np.where((color == "red") | (x > 1), "Yes", "No")
    return pd.DataFrame({"id": np.arange(n), "color": color, "x": x, "label": label})


def make_project(folder: Path, model: Any, **data: Any) -> Path:
    (folder / "data").mkdir(parents=True)
    rows().to_csv(folder / "data" / "rows.csv", index=False)
    settings = {
        "project": "mistakes",
        "data": {"source": "data/rows.csv", "target": "label", "id": "id", **data},
        "model": model,
    }
    (folder / "prodml.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return folder


BOOSTED = {
    "factory": "sklearn.ensemble.HistGradientBoostingClassifier",
    "params": {"max_iter": 20, "categorical_features": "from_dtype", "random_state": 0},
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "p", BOOSTED)


# --- the project file ----------------------------------------------------------------------


def test_a_project_file_in_latin1_names_the_file_the_byte_and_utf8(project: Path) -> None:
    file = project / "prodml.yaml"
    file.write_bytes(b"# caf\xe9\n" + file.read_bytes())

    line = error_line("fit", "-C", str(project))

    assert line == f"error: {file} is not UTF-8: byte 5 (line 1) is 0xe9; save the file as UTF-8"


def test_a_negative_split_seed_is_a_config_error(tmp_path: Path) -> None:
    folder = make_project(tmp_path / "p", BOOSTED, split={"method": "stratified", "seed": -1})

    line = error_line("fit", "-C", str(folder))

    assert line == (
        "error: data.split.seed -1: a seed is a whole number from 0 to 4294967295 (2**32-1)"
    )


def test_a_second_project_key_is_refused_not_used(project: Path) -> None:
    file = project / "prodml.yaml"
    file.write_text(file.read_text(encoding="utf-8") + "project: other\n", encoding="utf-8")

    line = error_line("fit", "-C", str(project))

    assert line.startswith("error: key 'project' is given twice in prodml.yaml, on lines ")
    assert not (project / ".prodml").exists() or not prodml.Project(project).runs()


def test_an_alias_bomb_is_refused_quickly_in_one_short_line(project: Path) -> None:
    bomb = "lol: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"l{i}: &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 9)}]\n" for i in range(8)
    )
    (project / "prodml.yaml").write_text(bomb, encoding="utf-8")
    started = time.perf_counter()

    line = error_line("fit", "-C", str(project))

    assert time.perf_counter() - started < 10
    assert line.startswith("error: prodml.yaml line 2: alias '*a' is not allowed")


@pytest.mark.parametrize(
    "split",
    [
        "  split: {method: balanced, on: [color]}\n",
        "  split:\n    method: balanced\n    on: [color]\n",
    ],
    ids=["flow", "block"],
)
def test_the_readme_forms_of_on_and_a_yes_class_fit(project: Path, split: str) -> None:
    # written by hand, as the README writes it: on: and Yes unquoted
    (project / "prodml.yaml").write_text(
        "project: mistakes\n"
        "data:\n"
        "  source: data/rows.csv\n"
        "  target: label\n"
        "  positive_class: Yes\n"
        "  metadata: [color]\n" + split + "model: sklearn.tree.DecisionTreeClassifier\n",
        encoding="utf-8",
    )

    result = command("fit", "--json", "-C", str(project))

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["split"]["method"] == "balanced"
    assert prodml.Project(project).settings.data.positive_class == "Yes"


# --- init ----------------------------------------------------------------------------------


def test_init_refuses_a_name_longer_than_file_systems_take(tmp_path: Path) -> None:
    line = error_line("init", str(tmp_path / ("a" * 300)))

    assert line.startswith("error: folder name 'aaaa")
    assert line.endswith(
        "(300 bytes) is not allowed: a folder name has at most 200 bytes and any characters "
        "but '/' and NUL; choose another name"
    )
    assert list(tmp_path.iterdir()) == []


def test_init_refuses_a_nul_character(tmp_path: Path) -> None:
    # a shell cannot pass NUL in an argument (and Click refuses it): the Python call can
    with pytest.raises(ProdmlError, match=r"^folder name 'a\\x00b' \(3 bytes\) is not allowed"):
        prodml.init(tmp_path / "a\0b")
    assert list(tmp_path.iterdir()) == []


def test_init_under_a_file_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")

    line = error_line("init", str(tmp_path / "notes.txt" / "p"))

    assert line.startswith(f"error: cannot create {tmp_path / 'notes.txt' / 'p'}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


# --- models: any estimator's parameters are recordable -------------------------------------

ONE_HOT_PIPELINE = {
    "factory": "sklearn.pipeline.Pipeline",
    "params": {
        "steps": [
            [
                "encode",
                {
                    "factory": "sklearn.compose.ColumnTransformer",
                    "params": {
                        "transformers": [
                            [
                                "onehot",
                                {
                                    "factory": "sklearn.preprocessing.OneHotEncoder",
                                    "params": {"handle_unknown": "ignore"},
                                },
                                ["color"],
                            ]
                        ],
                        "remainder": "passthrough",
                    },
                },
            ],
            ["clf", {"factory": "sklearn.linear_model.LogisticRegression"}],
        ]
    },
}


def test_a_one_hot_pipeline_fits_records_its_params_and_evaluates(tmp_path: Path) -> None:
    folder = make_project(tmp_path / "p", ONE_HOT_PIPELINE, positive_class="Yes")

    fitted = command("fit", "--json", "-C", str(folder))
    assert fitted.exit_code == 0, fitted.output
    run = json.loads(fitted.stdout)
    evaluated = command("evaluate", "--json", "-C", str(folder))

    params = run["params"]
    assert params["encode__onehot__dtype"] == "numpy.float64"
    assert params["encode__onehot__handle_unknown"] == "ignore"
    assert params["encode__remainder"] == "passthrough"
    assert params["clf"] == "LogisticRegression"
    assert prodml.Project(folder).run(run["id"]).params == params
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["run"] == run["id"]


# --- predict and the model of a project ----------------------------------------------------


@pytest.fixture
def registered(project: Path) -> Path:
    with prodml.Project(project) as opened:
        opened.register(opened.fit().id)
    return project


def test_predict_on_a_csv_of_only_a_header_says_it_has_no_rows(registered: Path) -> None:
    empty = registered / "empty.csv"
    rows().drop(columns=["label"]).head(0).to_csv(empty, index=False)

    line = error_line(
        "predict", str(empty), "-o", str(registered / "out.csv"), "-C", str(registered)
    )

    assert line == f"error: '{empty}' has no rows to score; give a file with at least one row"
    assert not (registered / "out.csv").exists()


def test_load_model_after_predict_is_the_newest_fitted_model(registered: Path) -> None:
    new = registered / "new.csv"
    rows().drop(columns=["label"]).to_csv(new, index=False)
    with prodml.Project(registered) as opened:
        fit = opened.runs()[0]
        batch = opened.predict(new, registered / "scored.csv")

        model = opened.load_model()

        assert opened.runs()[0].id == batch.id
        features = rows().loc[:, ["color", "x"]].astype({"color": "category"})
        expected = opened.load_model(fit.id).predict(features)
        assert model.predict(features).tolist() == expected.tolist()


# --- paths the file system refuses ----------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "reason"),
    [("a-folder", "Is a directory"), ("missing/report.html", "No such file or directory")],
)
def test_evaluate_html_to_a_path_that_cannot_be_written(
    registered: Path, where: str, reason: str
) -> None:
    (registered / "a-folder").mkdir()
    html = registered / where

    line = error_line("evaluate", "--html", str(html), "-C", str(registered))

    assert line == f"error: cannot use {html}: {reason}; check the path"


def test_predict_into_a_folder_that_does_not_exist(registered: Path) -> None:
    new = registered / "new.csv"
    rows().drop(columns=["label"]).to_csv(new, index=False)
    output = registered / "missing" / "scored.csv"

    line = error_line("predict", str(new), "-o", str(output), "-C", str(registered))

    assert line == (
        f"error: output '{output}' is in folder {output.parent}, which does not exist; "
        "create it or write elsewhere"
    )
    assert not output.parent.exists()


def test_fit_on_data_of_only_a_header_says_it_has_no_rows(project: Path) -> None:
    rows().head(0).to_csv(project / "data" / "rows.csv", index=False)

    line = error_line("fit", "-C", str(project))

    assert (
        line == "error: data/rows.csv has no rows, only a header; give data with rows to learn from"
    )


def test_an_artifact_url_of_an_unknown_protocol_names_the_key(project: Path) -> None:
    file = project / "prodml.yaml"
    settings = yaml.safe_load(file.read_text(encoding="utf-8"))
    file.write_text(
        yaml.safe_dump({**settings, "store": {"artifacts": "zzz://bucket"}}), encoding="utf-8"
    )

    line = error_line("fit", "-C", str(project))

    assert line.startswith("error: store.artifacts 'zzz://bucket' cannot be opened: ")
    assert "Protocol not known: zzz" in line


def test_a_baseline_with_a_wrong_parameter_names_its_place_in_the_list(project: Path) -> None:
    file = project / "prodml.yaml"
    settings = yaml.safe_load(file.read_text(encoding="utf-8"))
    bad = {"factory": "sklearn.linear_model.LogisticRegression", "params": {"C": "high"}}
    file.write_text(yaml.safe_dump({**settings, "baselines": [bad]}), encoding="utf-8")
    assert command("fit", "-C", str(project)).exit_code == 0

    line = error_line("evaluate", "-C", str(project))

    assert line.startswith("error: baselines[0].params"), line


# --- API keys ------------------------------------------------------------------------------


def test_keys_mistakes_are_one_error_line_each(project: Path) -> None:
    where = ("-C", str(project))
    assert command("keys", "create", "ci", "--role", "operator", *where).exit_code == 0

    assert error_line("keys", "create", "x", "--role", "operater", *where) == (
        "error: role 'operater' is not a role; roles are: viewer, reviewer, operator, admin "
        "(each may do what those before it may); did you mean 'operator'?"
    )
    assert error_line("keys", "create", "ci", "--role", "admin", *where) == (
        "error: a key named 'ci' exists (a revoked key keeps its name); choose another "
        "name, e.g. ci-2"
    )
    assert error_line("keys", "revoke", "cj", *where) == "error: no key named 'cj'; keys are: ci"
    assert error_line("keys", "revoke", "c", *where) == (
        "error: no key named 'c'; keys are: ci; did you mean 'ci'?"
    )
    assert error_line("keys", "create", " ", "--role", "admin", *where).startswith(
        "error: key name '' is not a name; give 1 to 200 printable characters"
    )
    assert [k.name for k in _keys(project)] == ["ci"]


def _keys(project: Path) -> list[Any]:
    from prodml.deploy.keys import Keys

    with prodml.Project(project) as opened:
        return Keys(opened.runs_store.database).list()


def test_a_serve_setting_that_is_not_a_boolean_names_the_key(project: Path) -> None:
    file = project / "prodml.yaml"
    settings = yaml.safe_load(file.read_text(encoding="utf-8"))
    file.write_text(
        yaml.safe_dump({**settings, "serve": {"open_feedback": "sometimes"}}), encoding="utf-8"
    )

    line = error_line("keys", "list", "-C", str(project))

    assert line.startswith("error: serve.open_feedback 'sometimes'"), line
