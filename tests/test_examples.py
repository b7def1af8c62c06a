"""`create_project`: the three examples and the blank template, and its refusals."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from prodml import examples
from prodml.config import Settings, SqlSource, TimeSplit, load_settings
from prodml.data.loans import generate_loans
from prodml.errors import NotFoundError, ProdmlError
from prodml.examples import EXAMPLES, create_project

COMMANDS = {"prodml fit --sanity", "prodml fit", "prodml fit --search", "prodml runs compare"}


def _read(project: Path, settings: Settings) -> pd.DataFrame:
    source = settings.data.source
    assert not isinstance(source, SqlSource)
    file = project / source
    return pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file)


def _build(spec: Any) -> Any:
    """A minimal stand-in for the model factory: nested ``{factory: ...}`` specs, built."""
    if isinstance(spec, dict) and "factory" in spec:
        module, _, name = spec["factory"].rpartition(".")
        factory = getattr(importlib.import_module(module), name)
        args = [_build(a) for a in spec.get("args", ())]
        return factory(*args, **{k: _build(v) for k, v in spec.get("params", {}).items()})
    if isinstance(spec, list | tuple):
        return [_build(item) for item in spec]
    return spec


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_makes_a_project_whose_file_parses_and_whose_data_fits_it(
    tmp_path: Path, example: str
) -> None:
    project = create_project(tmp_path / "projects" / example, example)

    assert project == (tmp_path / "projects" / example).resolve()
    rules = ["rules.py"] if example == "loans" else []  # the loans rule baseline
    assert sorted(p.name for p in project.iterdir()) == [
        ".gitignore",
        "README.md",
        "data",
        "prodml.yaml",
        *rules,
    ]
    assert ".prodml/" in (project / ".gitignore").read_text().splitlines()
    settings = load_settings(project)
    assert settings.project == example
    frame = _read(project, settings)
    data = settings.data
    named = [data.target, data.id, data.time, *data.metadata, *(data.features or ())]
    assert set(c for c in named if c is not None) <= set(frame.columns)
    assert frame[data.id].is_unique
    if data.positive_class is not None:
        assert data.positive_class in set(frame[data.target])
    if isinstance(data.split, TimeSplit):
        assert data.time is not None
        times = pd.to_datetime(frame[data.time])
        cuts = [data.split.dev_after, data.split.test_after]
        assert all(times.min() < pd.Timestamp(cut) < times.max() for cut in cuts if cut)


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_model_and_search_parameters_exist(tmp_path: Path, example: str) -> None:
    settings = load_settings(create_project(tmp_path / example, example))
    model = _build(settings.model.model_dump())
    assert settings.search is not None
    assert set(settings.search.params) <= set(model.get_params())


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_readme_says_what_the_data_is_and_what_to_run(tmp_path: Path, example: str) -> None:
    readme = (create_project(tmp_path / example, example) / "README.md").read_text()
    assert readme.startswith(f"# {example}:")
    commands = {line.partition("#")[0].strip() for line in readme.splitlines()}
    assert commands >= COMMANDS


def test_breast_cancer_has_snake_case_measurements_and_a_text_diagnosis(tmp_path: Path) -> None:
    project = create_project(tmp_path / "bc", "breast-cancer")
    frame = pd.read_csv(project / "data" / "breast_cancer.csv")
    assert frame.shape == (569, 32)
    assert frame["patient_id"].tolist() == list(range(1, 570))
    features = list(frame.columns[1:-1])
    assert features[0] == "mean_radius" and "worst_fractal_dimension" in features
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", name) for name in features)
    assert frame["diagnosis"].value_counts().to_dict() == {"benign": 357, "malignant": 212}


def test_digits_have_sixty_four_pixels_and_an_integer_digit(tmp_path: Path) -> None:
    frame = pd.read_csv(create_project(tmp_path / "d", "digits") / "data" / "digits.csv")
    assert list(frame.columns) == ["image_id", *(f"pixel_{i}" for i in range(64)), "digit"]
    assert len(frame) == 1797
    assert frame["digit"].dtype == "int64" and set(frame["digit"]) == set(range(10))
    pixels = frame.filter(like="pixel_").to_numpy()
    assert pixels.min() == 0 and pixels.max() == 16


def test_loans_data_is_the_default_generated_set_with_its_shift(tmp_path: Path) -> None:
    frame = pd.read_parquet(create_project(tmp_path / "l", "loans") / "data" / "loans.parquet")
    pd.testing.assert_frame_equal(frame, generate_loans())


def test_without_an_example_the_project_is_a_template_with_placeholders(tmp_path: Path) -> None:
    project = create_project(tmp_path / "new")
    assert sorted(p.name for p in project.iterdir()) == [".gitignore", "README.md", "prodml.yaml"]
    settings = load_settings(project)
    assert settings.project == "CHANGE_ME" and settings.data.target == "CHANGE_ME"
    assert "CHANGE_ME" in (project / "README.md").read_text()


def test_an_existing_empty_folder_is_filled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    project = create_project(Path("."), "digits")
    assert project == tmp_path / "here"
    assert (project / "data" / "digits.csv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["here"]


def test_an_unknown_example_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(
        NotFoundError,
        match=r"^example 'lons' is not known; examples are: breast-cancer, digits, loans; "
        r"did you mean 'loans'\?$",
    ):
        create_project(tmp_path / "p", "lons")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_empty_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "notes.txt").write_text("mine")
    with pytest.raises(
        ProdmlError, match=r"folder .*p is not empty; choose a new folder name or remove it"
    ):
        create_project(tmp_path / "p", "loans")
    assert [p.name for p in (tmp_path / "p").iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["p"]


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p").write_text("mine")
    with pytest.raises(ProdmlError, match=r"p is a file, not a folder; choose a new folder name"):
        create_project(tmp_path / "p")


def test_a_failure_halfway_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(data: Path) -> None:
        (data / "loans.parquet").write_text("half")
        raise OSError("disk full")

    monkeypatch.setitem(examples._WRITERS, "loans", broken)
    with pytest.raises(OSError, match="disk full"):
        create_project(tmp_path / "p", "loans")
    assert list(tmp_path.iterdir()) == []
