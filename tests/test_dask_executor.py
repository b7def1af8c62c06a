"""The executor setting: parsed from prodml.yaml, and run on this machine or on Dask."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dask.distributed import LocalCluster

import prodml
from prodml.config import ExecutorSettings, parse_settings
from prodml.errors import ConfigError
from prodml.executor import DASK_ADDRESS_ENV, running

BASE = {"project": "p", "data": {"source": "bundled:iris", "target": "target"}, "model": "m"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two in-process workers: a real scheduler, started in well under a second."""
    with LocalCluster(  # type: ignore[no-untyped-call]  # distributed is partly typed
        n_workers=2, processes=False, threads_per_worker=1, dashboard_address=":0"
    ) as started:
        yield started


def test_executor_defaults_to_one_local_process() -> None:
    assert parse_settings(BASE).executor == ExecutorSettings(kind="local", n_jobs=1)


def test_executor_parses_dask_with_an_address() -> None:
    raw = {**BASE, "executor": {"kind": "dask", "address": "tcp://10.0.0.5:8786"}}
    assert parse_settings(raw).executor.address == "tcp://10.0.0.5:8786"


def test_executor_kind_outside_the_allowed_is_named() -> None:
    with pytest.raises(ConfigError, match=r"executor\.kind.*'spark'.*local.*dask"):
        parse_settings({**BASE, "executor": {"kind": "spark"}})


@pytest.mark.parametrize("settings", [ExecutorSettings(), ExecutorSettings(n_jobs=2)])
def test_local_runner_gives_results_in_order(settings: ExecutorSettings) -> None:
    with running(settings) as run:
        assert list(run(pow, range(6), 2)) == [2**i for i in range(6)]


def test_dask_runner_gives_the_local_results(cluster: LocalCluster) -> None:
    with running(ExecutorSettings(kind="dask", address=cluster.scheduler_address)) as run:
        assert list(run(pow, range(6), 2)) == [2**i for i in range(6)]


def test_dask_address_from_the_environment_wins(
    cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DASK_ADDRESS_ENV, cluster.scheduler_address)
    with running(ExecutorSettings(kind="dask", address="tcp://127.0.0.1:1")) as run:
        assert list(run(pow, [3], 2)) == [8]


def test_unreachable_scheduler_names_the_setting_and_the_fix() -> None:
    settings = ExecutorSettings(kind="dask", address="tcp://127.0.0.1:1")
    with (
        pytest.raises(ConfigError, match=r"executor\.address 'tcp://127\.0\.0\.1:1' cannot be "),
        running(settings),
    ):
        pass


def test_dask_without_an_address_starts_a_local_cluster_of_n_jobs_workers() -> None:
    with running(ExecutorSettings(kind="dask", n_jobs=1)) as run:
        assert run.n_jobs == 1 and list(run(pow, range(3), 3)) == [3**i for i in range(3)]


@pytest.mark.parametrize("action", ["search", "predict"])
def test_the_project_file_s_executor_runs_search_and_predict(tmp_path: Path, action: str) -> None:
    """``Project.search`` and ``Project.predict`` go where prodml.yaml's executor says: an
    unreachable scheduler there stops them with its one line."""
    folder = prodml.init(tmp_path / "bc", example="breast-cancer")
    with prodml.Project(folder) as project:
        project.register(project.fit().id, force=True, reason="a test of the executor")
        parts = tmp_path / "parts"
        parts.mkdir()
        project.load_data().X.head(20).to_parquet(parts / "part-0.parquet")
    file = folder / "prodml.yaml"
    text = file.read_text(encoding="utf-8")
    file.write_text(text + "executor: {kind: dask, address: 'tcp://127.0.0.1:1'}\n")
    with (
        prodml.Project(folder) as project,
        pytest.raises(ConfigError, match=r"executor\.address 'tcp://127\.0\.0\.1:1' cannot be "),
    ):
        if action == "search":
            project.search()
        else:
            project.predict(parts, tmp_path / "scored")
