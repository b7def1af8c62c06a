"""Search on a Dask cluster: the same child runs and the same choice as in one process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dask.distributed import LocalCluster

import prodml
from prodml.config import ExecutorSettings
from prodml.executor import ONE_PROCESS
from prodml.store.runs import Run
from prodml.tracking.search import search


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(2, processes=False, dashboard_address=None) as started:  # type: ignore[no-untyped-call]
        yield started


def _search(folder: Path, executor: ExecutorSettings) -> tuple[Run, list[Run]]:
    """The loans grid (four candidates, 3-fold), with fewer boosting rounds to be quick."""
    root = prodml.init(folder, example="loans")
    settings = root / "prodml.yaml"
    settings.write_text(settings.read_text().replace("max_iter: 200", "max_iter: 5"))
    with prodml.Project(root) as project:
        spec = project.settings.model
        assert project.settings.search is not None
        data, split, model = project._prepare(spec)
        best = search(
            project._workspace(),
            model,
            spec,
            data,
            split,
            project.settings.search,
            executor=executor,
        )
        return best, project.runs(parent=best.id)


def test_search_on_two_dask_workers_equals_one_process(
    cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRODML_DATABASE_URL", raising=False)
    monkeypatch.delenv("PRODML_ARTIFACTS_URL", raising=False)
    dask = ExecutorSettings(kind="dask", address=cluster.scheduler_address)
    local_best, local_children = _search(tmp_path / "local", ONE_PROCESS)
    dask_best, dask_children = _search(tmp_path / "dask", dask)

    def scores(children: list[Run]) -> dict[str, float]:
        return {
            str(sorted((c.params or {}).items())): (c.metrics or {})["cv.roc_auc.mean"]
            for c in children
        }

    assert len(dask_children) == 4 and scores(dask_children) == scores(local_children)
    assert all(c.status == "finished" and c.kind == "candidate" for c in dask_children)
    chosen = (dask_best.model_spec or {})["search"]["best_params"]
    assert chosen == (local_best.model_spec or {})["search"]["best_params"]

    def quality(run: Run) -> dict[str, float]:
        return {k: v for k, v in (run.metrics or {}).items() if not k.endswith("seconds")}

    assert quality(dask_best) == pytest.approx(quality(local_best), rel=1e-12)
