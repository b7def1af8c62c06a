"""A real project on disk, from the breast-cancer example."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import prodml


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[prodml.Project]:
    monkeypatch.delenv("PRODML_DATABASE_URL", raising=False)
    monkeypatch.delenv("PRODML_ARTIFACTS_URL", raising=False)
    with prodml.Project(prodml.init(tmp_path / "bc", example="breast-cancer")) as opened:
        yield opened


Rewrite = Callable[[prodml.Project, str, str], prodml.Project]


@pytest.fixture
def rewrite() -> Rewrite:
    """Change prodml.yaml and open the project again (settings are parsed once)."""

    def change(project: prodml.Project, old: str, new: str) -> prodml.Project:
        file = project.path / "prodml.yaml"
        text = file.read_text()
        assert old in text, f"{old!r} not in prodml.yaml"
        file.write_text(text.replace(old, new))
        return prodml.Project(project.path)

    return change
