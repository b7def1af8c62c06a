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
from prodml.tracking.search import Candidate, search


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(2, processes=False, dashboard_address=":0") as started:  # type: ignore[no-untyped-call]
        yield started


def _search(
    folder: Path, executor: ExecutorSettings, seen: list[tuple[int, int, Candidate]]
) -> tuple[Run, list[Run]]:
    """The breast-cancer example's grid: five values of C, 5-fold, scored by ROC AUC; each
    candidate, as progress reports it, in ``seen``."""
    with prodml.Project(prodml.init(folder, example="breast-cancer")) as project:
        spec, grid = project.settings.model, project.settings.search
        assert grid is not None
        data, split, model = project._prepare(spec)
        best = search(
            project._workspace(),
            model,
            spec,
            data,
            split,
            grid,
            lambda done, total, candidate: seen.append((done, total, candidate)),
            executor,
        )
        return best, project.runs(parent=best.id)


def test_search_on_two_dask_workers_equals_one_process(
    cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRODML_DATABASE_URL", raising=False)
    monkeypatch.delenv("PRODML_ARTIFACTS_URL", raising=False)
    dask = ExecutorSettings(kind="dask", address=cluster.scheduler_address)
    local_seen: list[tuple[int, int, Candidate]] = []
    dask_seen: list[tuple[int, int, Candidate]] = []
    local_best, local_children = _search(tmp_path / "local", ONE_PROCESS, local_seen)
    dask_best, dask_children = _search(tmp_path / "dask", dask, dask_seen)

    def scores(children: list[Run]) -> dict[str, float]:
        return {
            str(sorted((c.params or {}).items())): (c.metrics or {})["cv.roc_auc.mean"]
            for c in children
        }

    assert len(dask_children) == 5 and scores(dask_children) == scores(local_children)
    assert all(c.status == "finished" and c.kind == "candidate" for c in dask_children)
    # progress: one report per candidate, in the grid's order, as in one process
    assert [(done, total) for done, total, _ in dask_seen] == [(i, 5) for i in range(1, 6)]
    assert [c.params for *_, c in dask_seen] == [c.params for *_, c in local_seen]
    assert [c.score for *_, c in dask_seen] == [c.score for *_, c in local_seen]
    chosen = (dask_best.model_spec or {})["search"]["best_params"]
    assert chosen == (local_best.model_spec or {})["search"]["best_params"]

    def quality(run: Run) -> dict[str, float]:
        return {k: v for k, v in (run.metrics or {}).items() if not k.endswith("seconds")}

    assert quality(dask_best) == pytest.approx(quality(local_best), rel=1e-12)
