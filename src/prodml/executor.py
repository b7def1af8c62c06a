"""Where parallel work runs: processes on this machine, or the workers of a Dask cluster.

``executor:`` in ``prodml.yaml`` picks it; search candidates, partitions to score and
partitions to profile all go through :func:`running`, which maps a function over items
with joblib: its process backend (``kind: local``, ``n_jobs`` at a time), or its Dask
backend (``kind: dask``) on the scheduler at ``address`` (or ``PRODML_DASK_ADDRESS``),
else on a ``LocalCluster`` of ``n_jobs`` workers started here. What every item needs
(the model, the training rows) is ``shared``: sent to each Dask worker once (scattered).

>>> with running(ExecutorSettings()) as run:
...     list(run(pow, [1, 2, 3], shared=2))
[2, 4, 8]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from joblib import (  # type: ignore[import-untyped]  # joblib has no type stubs
    Parallel,
    delayed,
    parallel_config,
)

from prodml.config import ExecutorSettings
from prodml.errors import ConfigError

DASK_ADDRESS_ENV = "PRODML_DASK_ADDRESS"
CONNECT_SECONDS = 5
#: The default: everything in this process, one item after another.
ONE_PROCESS = ExecutorSettings()

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


class Runner:
    """``run(fn, items, shared=s)``: ``fn(s, item)`` for each item, the results in the items'
    order, each yielded as soon as it and those before it are done."""

    def __init__(self, backend: str, n_jobs: int) -> None:
        self.backend, self.n_jobs = backend, n_jobs

    def __call__(self, fn: Callable[[S, T], R], items: Iterable[T], shared: S) -> Iterator[R]:
        scatter = {"scatter": [shared]} if self.backend == "dask" else {}
        with parallel_config(backend=self.backend, n_jobs=self.n_jobs, **scatter):
            parallel = Parallel(return_as="generator")
            yield from parallel(delayed(_alone)(fn, shared, item) for item in items)


def _alone(fn: Callable[[S, T], R], shared: S, item: T) -> R:
    # A worker runs one item at a time: joblib inside it (scikit-learn's cross_validate)
    # stays in the worker, rather than sending its own tasks back to the cluster.
    with parallel_config(backend="sequential"):
        return fn(shared, item)


@contextmanager
def running(settings: ExecutorSettings) -> Iterator[Runner]:
    """A runner for ``settings``; a Dask client (and a LocalCluster) live until the block ends."""
    if settings.kind == "local":
        yield Runner("loky" if settings.n_jobs > 1 else "sequential", settings.n_jobs)
        return
    with ExitStack() as stack:
        client = stack.enter_context(_client(settings))
        workers = max(len(client.scheduler_info().get("workers", {})), 1)
        yield Runner("dask", workers)


@contextmanager
def _client(settings: ExecutorSettings) -> Iterator[Any]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            "executor.kind 'dask' needs Dask, which is not installed; allowed kinds are local "
            "and dask: pip install 'prodml[dask]', or set executor.kind: local"
        ) from None
    from_env = os.environ.get(DASK_ADDRESS_ENV)
    address, key = (
        (from_env, DASK_ADDRESS_ENV) if from_env else (settings.address, "executor.address")
    )
    if address is None:
        with (
            LocalCluster(  # type: ignore[no-untyped-call]  # distributed is partly typed
                n_workers=settings.n_jobs, threads_per_worker=1, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,  # type: ignore[no-untyped-call]
        ):
            yield client
        return
    try:
        client = Client(address, timeout=CONNECT_SECONDS)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"{key} '{address}' cannot be reached ({reason}); give the address of a running "
            "Dask scheduler (tcp://HOST:8786), or unset it to start a LocalCluster here"
        ) from None
    with client:
        yield client
