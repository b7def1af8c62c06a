"""Settings composed as Palladium composes its configuration: ``${VAR}`` and
``${VAR:-default}`` in any value, ``PRODML_CONFIG=base.yaml,prod.yaml`` and ``extends:``
merging files (a later one wins), and ``prodml config`` showing each value with the file it
came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import prodml
from prodml.cli import app
from prodml.config import load_settings
from prodml.config_files import compose
from prodml.errors import ConfigError

runner = CliRunner()

BASE = {
    "project": "loans",
    "data": {"source": "data/loans.csv", "target": "approved", "metadata": ["gender", "region"]},
    "model": {
        "factory": "sklearn.ensemble.HistGradientBoostingClassifier",
        "params": {"max_iter": 200, "random_state": 0},
    },
    "monitor": {"window": "1h"},
}


def write(folder: Path, name: str, settings: dict[str, Any] | str) -> Path:
    file = folder / name
    text = settings if isinstance(settings, str) else yaml.safe_dump(settings, sort_keys=False)
    file.write_text(text, encoding="utf-8")
    return file


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PRODML_CONFIG", raising=False)
    write(tmp_path, "base.yaml", BASE)
    return tmp_path


def invoke(folder: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["config", "-C", str(folder), *args], env=env)


def test_later_files_win_key_by_key(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        folder,
        "prod.yaml",
        {
            "data": {"source": "data/prod.parquet", "metadata": ["region"]},
            "model": {"params": {"max_iter": 500}},
        },
    )
    monkeypatch.setenv("PRODML_CONFIG", "base.yaml, prod.yaml")
    settings = load_settings(folder)
    assert settings.data.source == "data/prod.parquet"  # the later file's
    assert settings.data.target == "approved"  # kept from base: mappings merge
    assert settings.data.metadata == ("region",)  # a list is replaced whole
    assert settings.model.params == {"max_iter": 500, "random_state": 0}
    assert prodml.Project(folder).name == "loans"  # every command reads the same files


def test_extends_merges_the_base_first(folder: Path) -> None:
    write(folder, "prodml.yaml", {"extends": "base.yaml", "monitor": {"window": "30m"}})
    composed = compose(folder, {})
    assert composed.raw["monitor"] == {"window": "30m"} and "extends" not in composed.raw
    assert [f.name for f in composed.files] == ["base.yaml", "prodml.yaml"]
    assert composed.origins["monitor", "window"].file.name == "prodml.yaml"
    assert composed.origins["data", "source"].file.name == "base.yaml"


def test_variables_are_read_from_the_environment_with_their_types(folder: Path) -> None:
    write(
        folder,
        "prodml.yaml",
        "extends: base.yaml\n"
        "data:\n  source: ${DATA_DIR}/loans.parquet\n"
        "model:\n  params: {max_iter: '${ITER:-300}', random_state: '${SEED}'}\n"
        "store:\n  database: ${DB_URL:-}\n"
        "deploy:\n  canary: {ramp: '$${not a variable}'}\n",
    )
    raw = compose(folder, {"DATA_DIR": "/mnt/data", "SEED": "7"}).raw
    assert raw["data"]["source"] == "/mnt/data/loans.parquet"
    assert raw["model"]["params"] == {"max_iter": 300, "random_state": 7}  # numbers
    assert raw["store"]["database"] is None  # an empty default: the default store
    assert raw["deploy"]["canary"]["ramp"] == "${not a variable}"
    assert (
        compose(folder, {"DATA_DIR": "d", "SEED": "1", "ITER": "50"}).raw["model"]["params"][
            "max_iter"
        ]
        == 50
    )


def test_an_unset_variable_without_default_names_the_key_the_file_and_the_fix(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(folder, "prodml.yaml", "extends: base.yaml\ndata:\n  source: ${DATA_URL}\n")
    monkeypatch.delenv("DATA_URL", raising=False)
    result = runner.invoke(app, ["runs", "list", "-C", str(folder)])
    assert result.exit_code == 1
    assert " ".join(result.stderr.split()) == (
        "error: data.source in prodml.yaml reads ${DATA_URL}, which is not set; set it "
        "(export DATA_URL=...) or give a default: ${DATA_URL:-value}"
    )


@pytest.mark.parametrize(
    ("files", "listed", "message"),
    [
        (
            {"prodml.yaml": "extends: prodml.yaml\n"},
            None,
            r"^prodml.yaml extends prodml.yaml: a file cannot extend itself",
        ),
        (
            {"prodml.yaml": "extends: [missing.yaml]\n"},
            None,
            r"^extends in prodml.yaml names missing.yaml, which is not a file in ",
        ),
        ({}, "base.yaml,prod.yaml", r"^PRODML_CONFIG names prod.yaml, which is not a file in "),
        (
            {"prod.yaml": "extends: base.yaml\nmodel: {params: {max_iter: ${N}}}\n"},
            "prod.yaml",
            r"^prod.yaml is not valid YAML: line 2, column 29",
        ),
    ],
    ids=["cycle", "missing-base", "missing-listed", "flow-needs-quotes"],
)
def test_file_mistakes_name_the_file(
    folder: Path, files: dict[str, str], listed: str | None, message: str
) -> None:
    for name, text in files.items():
        write(folder, name, text)
    with pytest.raises(ConfigError, match=message):
        compose(folder, {} if listed is None else {"PRODML_CONFIG": listed})


def test_config_shows_each_value_with_its_file_at_80_columns(folder: Path) -> None:
    write(
        folder,
        "prod.yaml",
        "data:\n  source: ${DATA_URL:-data/prod.parquet}\nmodel:\n  params:\n    max_iter: 500\n",
    )
    result = invoke(folder, env={"PRODML_CONFIG": "base.yaml,prod.yaml", "COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    heading = " ".join(result.stdout.split("┏")[0].split())
    assert heading.endswith("from base.yaml, prod.yaml (PRODML_CONFIG):")
    assert all(len(line) <= 80 for line in lines)
    rows = {cells[0]: cells[1:] for cells in _cells(lines)}
    assert rows["data.source"] == ["data/prod.parquet", "prod.yaml ($DATA_URL)"]
    assert rows["model.params.max_iter"] == ["500", "prod.yaml"]
    assert rows["model.params.random_state"] == ["0", "base.yaml"]
    assert rows["data.metadata"] == ["[gender, region]", "base.yaml"]


def _cells(lines: list[str]) -> list[list[str]]:
    """The table's one-line rows, cell by cell."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in lines
        if line.startswith("│") and line.count("│") == 4
    ]


def test_config_json_and_defaults(folder: Path) -> None:
    write(folder, "prodml.yaml", {"extends": "base.yaml"})
    shown = json.loads(invoke(folder, "--json", "--defaults").stdout)
    assert shown["files"] == ["base.yaml", "prodml.yaml"]
    assert shown["settings"]["data"]["target"] == "approved"
    assert shown["sources"]["model.params.max_iter"] == {"file": "base.yaml", "variables": []}
    assert shown["defaults"]["serve.admin"] is True
    assert "model.params.max_iter" not in shown["defaults"]


def test_config_shows_the_settings_then_says_what_is_wrong(folder: Path) -> None:
    write(folder, "prodml.yaml", {"extends": "base.yaml", "task": "clasification"})
    result = invoke(folder)
    assert result.exit_code == 1
    assert "clasification" in result.stdout  # the table came first
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: task ")
