"""Windows scored in worker processes while the monitor reads on.

A first pass over a long log spends most of its time scoring windows (metrics, and the
drift of every feature), one after the other, while reading the log waits. A
:class:`Scorer` takes each window as it is cut (:func:`~prodml.monitor.scoring.score`
needs nothing but its rows) and gives the windows back scored, in the order they were
given, for the monitor to store in that order: the same windows, metrics and scores as
scoring them one by one.

A pass of a few windows, the usual one of ``prodml monitor --every``, does not pay for
starting processes: the first :data:`SERIAL_WINDOWS` windows of a pass are scored in
the process itself, and the workers start with the next one (forked, so that they start
in milliseconds with what the monitor has imported), one a core; on one core, never. At
most :data:`AHEAD` windows a worker wait to be stored, so memory stays bounded however
long the log.

>>> from prodml.monitor.scoring import Scored
>>> def job(n):  # a stand-in for score(): here the "job" is a number
...     return Scored({"n": n}, {}, [])
>>> scorer = Scorer(workers=1, score=job)
>>> done = [context for n in range(5) for context, _ in scorer.put(n, f"w{n}")]
>>> done + [context for context, _ in scorer.rest()]
['w0', 'w1', 'w2', 'w3', 'w4']
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Generic, TypeVar

from prodml.monitor.scoring import Scored, score

#: Windows of a pass scored in the monitor's own process before workers start.
SERIAL_WINDOWS = 3
#: Windows a worker may hold before the monitor waits for the oldest to be scored.
AHEAD = 2

T = TypeVar("T")


class Scorer(Generic[T]):
    """Scores the windows :meth:`put` takes, in worker processes once there are enough
    (see the module's docstring), and gives them back in order, each with the ``context``
    it came with. ``workers``: processes at most (default: one a core; 1: none)."""

    def __init__(
        self, workers: int | None = None, *, score: Callable[[Any], Scored] = score
    ) -> None:
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self._score = score
        self._given = 0
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: deque[tuple[T, Future[Scored]]] = deque()

    def put(self, job: Any, context: T) -> list[tuple[T, Scored]]:
        """Score ``job``; returns the windows scored since the last call, in the order
        they were put, with their contexts (waits for the oldest when workers hold too
        many)."""
        self._given += 1
        if self._pool is None and (self.workers < 2 or self._given <= SERIAL_WINDOWS):
            return [(context, self._score(job))]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=_context())
        self._waiting.append((context, self._pool.submit(self._score, job)))
        ready = []
        while self._waiting and (
            len(self._waiting) > AHEAD * self.workers or self._waiting[0][1].done()
        ):
            waiting, future = self._waiting.popleft()
            ready.append((waiting, future.result()))
        return ready

    def rest(self) -> list[tuple[T, Scored]]:
        """The windows still being scored, once they are, in order."""
        ready = [(context, future.result()) for context, future in self._waiting]
        self._waiting.clear()
        return ready

    def close(self) -> None:
        """Stop the workers (a window still being scored is dropped)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        self._waiting.clear()


def _context() -> Any:
    """Fork where there is fork: a worker starts with the modules already imported
    (a new interpreter would import numpy, pandas and scipy again, a second a worker)."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None
