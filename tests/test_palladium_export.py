"""``prodml models export NAME:V DIR`` and ``prodml models import DIR``: a version moves
between stores (SQLite and PostgreSQL) with its run, files, schema, reference profile and
evaluation, every file checked against the manifest's SHA-256; and ``--format mlflow``: a
folder that the real MLflow loads (``mlflow.pyfunc.load_model``) and serves
(``mlflow models serve``), with prodml's own row checks."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import prodml
from prodml.cli import app
from prodml.data.schema import Schema

runner = CliRunner()
MLFLOW = Path(sys.executable).parent / "mlflow"

pytestmark = pytest.mark.usefixtures("default_store")


def ok(folder: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "-C", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.split())


def error_line(folder: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "-C", str(folder)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return " ".join(lines[0].split())


@pytest.fixture(scope="module")
def loans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loans example, fitted, evaluated (its audit passes) and registered as loans:1."""
    folder = prodml.init(tmp_path_factory.mktemp("export") / "loans", example="loans")
    os.environ.pop("PRODML_DATABASE_URL", None)
    with prodml.Project(folder) as project:
        run = project.fit()
        project.evaluate(run.id)
        assert project.register(run.id).audit_passed
    return folder


def empty_project(where: Path) -> Path:
    """A project folder of its own (the breast-cancer settings: only its store matters)."""
    return prodml.init(where, example="breast-cancer")


def features(project: Path) -> pd.DataFrame:
    """Rows of the loans data, the model's input columns only."""
    with prodml.Project(project) as opened:
        schema = Schema.from_dict(opened.registry.get("loans").input_schema or {})
    frame = pd.read_parquet(project / "data" / "loans.parquet")
    return frame[[c.name for c in schema.columns]].head(300)


def probabilities(project: Path, ref: str, rows: pd.DataFrame) -> np.ndarray:
    with prodml.Project(project) as opened:
        registry = opened.registry
        model = registry.load(registry.get(ref))
    return np.asarray(model.predict_proba(rows))


def test_a_version_moves_from_sqlite_to_postgresql_and_back(
    loans: Path, tmp_path: Path, own_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "loans-1"
    exported = json.loads(ok(loans, "models", "export", "loans:1", str(folder), "--json"))
    assert sorted(exported["files"]) == [
        "calibration.json",
        "classes.json",
        "evaluation.json",
        "manifest.json",
        "model.skops",
        "profile.json",
        "schema.json",
        "split.npy",
    ]
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert (manifest["format"], manifest["format_version"]) == ("prodml-model", 1)
    assert manifest["model"]["ref"] == "loans:1"

    shared = empty_project(tmp_path / "shared")
    monkeypatch.setenv("PRODML_DATABASE_URL", own_postgres_url)
    said = ok(shared, "models", "import", str(folder))
    assert said.startswith(f"Imported loans:1 from {folder}. Registered loans:1 from run")
    assert "It is the primary of endpoint loans." in said  # its audit passed, as before
    with prodml.Project(shared) as opened:
        moved = opened.registry.get("loans:1")
        assert opened.database_url == own_postgres_url
        assert moved.audit_passed and moved.evaluation_id is not None
        assert moved.run_id == manifest["run"]["id"]
        run = opened.run(moved.run_id)
        assert (run.data_fingerprint, run.metrics) == (
            manifest["run"]["data_fingerprint"],
            manifest["run"]["metrics"],
        )
        assert {a.name for a in run.artifacts} == set(manifest["artifacts"])
    rows = features(loans)
    np.testing.assert_array_equal(
        probabilities(shared, "loans:1", rows), probabilities(loans, "loans:1", rows)
    )
    again = ok(shared, "models", "import", str(folder))
    assert (
        again
        == f"This store has loans:1 already, as loans:1 (run {moved.run_id}); nothing imported."
    )

    back = tmp_path / "back"
    ok(shared, "models", "export", "loans", str(back))
    monkeypatch.delenv("PRODML_DATABASE_URL")
    home = empty_project(tmp_path / "home")
    imported = json.loads(ok(home, "models", "import", str(back), "--name", "credit", "--json"))
    assert (imported["ref"], imported["source"], imported["added"]) == ("credit:1", "loans:1", True)
    assert imported["primary_of"] == ["credit"]
    np.testing.assert_array_equal(
        probabilities(home, "credit:1", rows), probabilities(loans, "loans:1", rows)
    )


def test_a_file_changed_after_export_is_refused_before_anything_is_written(
    loans: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "loans-1"
    ok(loans, "models", "export", "loans:1", str(folder))
    profile = folder / "profile.json"
    profile.write_text(profile.read_text().replace('"rows"', '"rowz"', 1))
    home = empty_project(tmp_path / "home")
    line = error_line(home, "models", "import", str(folder))
    assert line.startswith(f"error: {profile} was changed after it was exported: its SHA-256 is ")
    assert line.endswith("...; export the version again")
    assert json.loads(ok(home, "models", "list", "--json")) == []
    assert json.loads(ok(home, "runs", "list", "--json")) == []


def test_export_refuses_a_folder_that_holds_files(loans: Path, tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert error_line(loans, "models", "export", "loans:1", str(folder)) == (
        f"error: cannot export into {folder}: it already holds files (notes.txt); give a new "
        "or empty folder"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["busy"]  # no partial folder left


def test_import_of_a_folder_export_did_not_write_says_so(loans: Path, tmp_path: Path) -> None:
    assert error_line(loans, "models", "import", str(tmp_path)) == (
        f"error: {tmp_path} has no manifest.json: it is not a folder prodml models export "
        "wrote; give the folder export made"
    )


# --- MLflow ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow_folder(loans: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mlflow") / "loans-1"
    said = ok(loans, "models", "export", "loans:1", str(folder), "--format", "mlflow")
    assert f"Serve it with mlflow models serve -m {folder} --env-manager local" in said
    return folder


@contextlib.contextmanager
def quiet_mlflow() -> Iterator[None]:
    """MLflow without the warning its lazy imports give about its own type hints (tests
    turn warnings into errors)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*Any type hint is inferred", UserWarning)
        yield


def test_the_mlflow_folder_has_the_files_mlflow_reads(mlflow_folder: Path) -> None:
    from mlflow.models import Model

    with quiet_mlflow():
        model = Model.load(str(mlflow_folder / "MLmodel"))
    flavor = model.flavors["python_function"]
    assert (flavor["loader_module"], flavor["data"]) == ("prodml.mlflow_model", "model")
    assert model.signature is not None
    inputs = {c.name: str(c.type) for c in model.signature.inputs.inputs}
    assert inputs["purpose"] == "DataType.string" and inputs["age"] == "DataType.long"
    assert inputs["employment_years"] == "DataType.double"  # missing values in training
    with quiet_mlflow():
        example: Any = model.load_input_example(str(mlflow_folder))  # typed as a str there
    assert isinstance(example, pd.DataFrame)
    assert list(example.columns) == list(inputs) and len(example) == 3
    requirements = (mlflow_folder / "requirements.txt").read_text().splitlines()
    assert requirements[0] == "prodml==0.1.0" and any(
        r.startswith("scikit-learn==") for r in requirements
    )


def test_mlflow_loads_the_folder_and_predicts_as_prodml_does(
    loans: Path, mlflow_folder: Path
) -> None:
    from mlflow import pyfunc
    from mlflow.exceptions import MlflowException

    with quiet_mlflow():
        model = pyfunc.load_model(str(mlflow_folder))
    rows = features(loans)
    labels = model.predict(rows)
    with prodml.Project(loans) as opened:
        expected = opened.registry.load(opened.registry.get("loans:1")).predict(rows)
    assert list(labels) == expected.tolist()
    unseen = rows.head(2).copy()
    unseen["purpose"] = unseen["purpose"].astype(str)
    unseen.loc[unseen.index[1], "purpose"] = "vacation"
    with pytest.raises(
        MlflowException, match=r"row 1, field 'purpose': 'vacation' was never seen in training"
    ):
        model.predict(unseen)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def mlflow_server(mlflow_folder: Path, tmp_path: Path) -> Iterator[str]:
    """``mlflow models serve`` of the folder, in this environment (prodml installed)."""
    assert MLFLOW.exists(), "MLflow is in the test extras: pip install -e '.[test]'"
    port = free_port()
    env = {**os.environ, "PATH": f"{MLFLOW.parent}{os.pathsep}{os.environ['PATH']}"}
    log = (tmp_path / "mlflow.log").open("w")
    serve = [str(MLFLOW), "models", "serve", "-m", str(mlflow_folder), "--env-manager", "local"]
    server = subprocess.Popen(
        [*serve, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its uvicorn child stops with it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "mlflow.log").read_text()
            try:
                with urlopen(f"{url}/ping", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError((tmp_path / "mlflow.log").read_text())
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()


def invoke(url: str, body: Any) -> tuple[int, Any]:
    request = Request(
        f"{url}/invocations",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    try:
        with urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_mlflow_models_serve_answers_with_the_models_labels(
    loans: Path, mlflow_folder: Path, mlflow_server: str
) -> None:
    serving = json.loads((mlflow_folder / "serving_input_example.json").read_text())
    status, answer = invoke(mlflow_server, serving)
    assert status == 200
    split = serving["dataframe_split"]
    rows = pd.DataFrame(split["data"], columns=split["columns"])
    with prodml.Project(loans) as opened:
        model = opened.registry.load(opened.registry.get("loans:1"))
        schema = Schema.from_dict(opened.registry.get("loans:1").input_schema or {})
    for column in schema.columns:
        if column.kind == "category":
            rows[column.name] = pd.Categorical(rows[column.name], sorted(column.categories or {}))
    assert answer == {"predictions": model.predict(rows).tolist()}
    record = {**dict(zip(split["columns"], split["data"][0], strict=True)), "purpose": "vacation"}
    status, refused = invoke(mlflow_server, {"dataframe_records": [record]})
    assert status == 400
    assert refused["error_code"] == "BAD_REQUEST"
    assert "row 0, field 'purpose': 'vacation' was never seen in training" in refused["message"]


def test_export_help_names_both_formats() -> None:
    result = runner.invoke(app, ["models", "export", "--help"], catch_exceptions=False)
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "prodml: a folder prodml models import reads into another store" in text
    assert "mlflow: an MLflow model folder" in text


def test_an_export_of_each_format_leaves_no_temporary_folder(
    mlflow_folder: Path, loans: Path, tmp_path: Path
) -> None:
    ok(loans, "models", "export", "loans:1", str(tmp_path / "a"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert sorted(p.name for p in mlflow_folder.parent.iterdir()) == ["loans-1"]
    shutil.rmtree(tmp_path / "a")
