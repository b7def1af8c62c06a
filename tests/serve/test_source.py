"""One conformance suite for every :class:`~prodml.serve.source.Source`: add a factory to
``SOURCES`` and the new source is held to the same verbs."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import prodml
from prodml.errors import NotFoundError
from prodml.serve.registry_source import RegistrySource
from prodml.serve.source import RunSource, Source

#: Each source, and the fixture of the project it serves.
SOURCES: dict[str, tuple[Callable[[prodml.Project], Source], str]] = {
    "run": (lambda project: RunSource(project), "spare_project"),
    "registry": (lambda project: RegistrySource(project.registry), "registered_project"),
}


@pytest.fixture(params=sorted(SOURCES))
def source(request: pytest.FixtureRequest) -> Iterator[Source]:
    make, folder = SOURCES[request.param]
    with prodml.Project(request.getfixturevalue(folder)) as project:
        yield make(project)


def test_every_endpoint_loads_a_served_model_with_its_schema(source: Source) -> None:
    endpoints = source.endpoints()
    assert endpoints
    for endpoint in endpoints:
        served = source.load(endpoint)
        assert served.endpoint == endpoint
        assert served.model_id == f"{served.name}:{served.version}"
        assert hasattr(served.model, "predict") and served.schema.columns


def test_the_revision_is_a_stable_number_while_nothing_changes(source: Source) -> None:
    for endpoint in source.endpoints():
        assert isinstance(source.revision(endpoint), int)
        assert source.revision(endpoint) == source.revision(endpoint)


def test_an_unknown_endpoint_is_not_found_by_name(source: Source) -> None:
    with pytest.raises(NotFoundError, match="endpoint 'nowhere'"):
        source.load("nowhere")
    with pytest.raises(NotFoundError, match="endpoint 'nowhere'"):
        source.revision("nowhere")


def test_a_run_source_serves_only_finished_fits_with_a_schema(spare_project: Path) -> None:
    with prodml.Project(spare_project) as project:
        sanity = project.sanity(rows=50).run.id
        with pytest.raises(NotFoundError, match=f"run {sanity} is a .* sanity run"):
            RunSource(project, sanity)
        with pytest.raises(NotFoundError, match="run 'zzzz' is not in the store"):
            RunSource(project, "zzzz")


def test_both_sources_name_the_projects_metadata_fields_with_every_version(
    loans_project: Path, tmp_path: Path
) -> None:
    """What a request may carry beside the inputs, to be logged: ``data.metadata``."""
    folder = shutil.copytree(loans_project, tmp_path / "loans")
    with prodml.Project(folder) as project:
        by_run = RunSource(project).load("loans")
        project.register(force=True, reason="a test")
        metadata = project.settings.data.metadata
        by_registry = RegistrySource(project.registry, metadata).load("loans")
    assert by_run.metadata == by_registry.metadata == ("gender", "region")
