"""Search on a Dask cluster or local processes: the same child runs, progress and choice
as in one process."""

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


@pytest.mark.parametrize("kind", ["dask", "local"])
def test_search_in_parallel_equals_one_process(
    kind: str, cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On two Dask workers, or two local processes (executor: {kind: local, n_jobs: 2})."""
    monkeypatch.delenv("PRODML_DATABASE_URL", raising=False)
    monkeypatch.delenv("PRODML_ARTIFACTS_URL", raising=False)
    parallel = {
        "dask": ExecutorSettings(kind="dask", address=cluster.scheduler_address),
        "local": ExecutorSettings(kind="local", n_jobs=2),
    }[kind]
    local_seen: list[tuple[int, int, Candidate]] = []
    parallel_seen: list[tuple[int, int, Candidate]] = []
    local_best, local_children = _search(tmp_path / "one", ONE_PROCESS, local_seen)
    parallel_best, parallel_children = _search(tmp_path / kind, parallel, parallel_seen)

    def scores(children: list[Run]) -> dict[str, float]:
        return {
            str(sorted((c.params or {}).items())): (c.metrics or {})["cv.roc_auc.mean"]
            for c in children
        }

    assert len(parallel_children) == 5 and scores(parallel_children) == scores(local_children)
    assert all(c.status == "finished" and c.kind == "candidate" for c in parallel_children)
    # progress: one report per candidate, in the grid's order, as in one process
    assert [(done, total) for done, total, _ in parallel_seen] == [(i, 5) for i in range(1, 6)]
    assert [c.params for *_, c in parallel_seen] == [c.params for *_, c in local_seen]
    assert [c.score for *_, c in parallel_seen] == [c.score for *_, c in local_seen]
    chosen = (parallel_best.model_spec or {})["search"]["best_params"]
    assert chosen == (local_best.model_spec or {})["search"]["best_params"]

    def quality(run: Run) -> dict[str, float]:
        return {k: v for k, v in (run.metrics or {}).items() if not k.endswith("seconds")}

    assert quality(parallel_best) == pytest.approx(quality(local_best), rel=1e-12)
