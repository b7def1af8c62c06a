"""A real project on disk, from the breast-cancer example."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import prodml

Example = Callable[[str], prodml.Project]


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Example]:
    """Open a new project from one of prodml's examples, in a local store whatever the
    environment says (each closed at the end)."""
    monkeypatch.delenv("PRODML_DATABASE_URL", raising=False)
    monkeypatch.delenv("PRODML_ARTIFACTS_URL", raising=False)
    opened: list[prodml.Project] = []

    def open_example(name: str) -> prodml.Project:
        opened.append(prodml.Project(prodml.init(tmp_path / name, example=name)))
        return opened[-1]

    yield open_example
    for project in opened:
        project.close()


@pytest.fixture
def project(example: Example) -> prodml.Project:
    return example("breast-cancer")


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
