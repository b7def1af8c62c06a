"""The loans example fitted once and registered (its audit forced: these tests are about
deferral, not the model)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import prodml


@pytest.fixture(scope="session")
def fitted_loans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("automation") / "loans"
    prodml.init(folder, example="loans")
    with prodml.Project(folder) as project:
        project.register(project.fit().id, force=True, reason="a test of deferral")
    return folder


@pytest.fixture
def loans(fitted_loans: Path, tmp_path: Path) -> Iterator[prodml.Project]:
    """A copy of the fitted loans project, to change."""
    with prodml.Project(shutil.copytree(fitted_loans, tmp_path / "loans")) as project:
        yield project
