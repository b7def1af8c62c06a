"""Adaptive micro-batching: requests that arrive together are predicted in one model call.

A model call costs about the same for one row as for hundreds (scikit-learn's input checks
and pandas dominate), so a :class:`Batcher` lets one worker task take everything queued,
up to ``max_batch`` rows, and hand it to ``process`` at once. It never sleeps for a fixed
time: an idle server answers a lone request at once. Only while more requests are on
their way (``arriving()`` is above zero: read, but not yet queued) does the worker yield
to the event loop, for at most ``max_wait`` seconds, to let them join the batch. While
``process`` runs (in a thread, when the model runs there) new requests keep queuing, so
under load batches grow by themselves.

The queue is bounded in rows: past ``max_queue`` a request is refused with 503 at once,
so an overloaded server sheds load instead of computing answers whose clients gave up.

A batcher whose jobs nobody waits for (a shadow's copies) may ``linger``: hold a batch
open up to that many seconds for it to fill, so that a shadow beside a busy primary makes
a few large model calls instead of one small call per request.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from prodml.serve.rejection import Rejected

logger = logging.getLogger("prodml.serve")

Job = TypeVar("Job")


class Batcher(Generic[Job]):
    """Queues jobs of some rows each; one task passes them to ``process`` in batches.

    ``process`` gets the jobs of one batch and must settle each job's own future (the
    caller's business); the batcher only waits for it before taking the next batch.
    """

    def __init__(
        self,
        process: Callable[[list[Job]], Awaitable[None]],
        *,
        max_batch: int = 256,
        max_wait: float = 0.002,
        max_queue: int = 10_000,
        linger: float = 0.0,
        arriving: Callable[[], int] = lambda: 0,
        on_batch: Callable[[int], None] = lambda _rows: None,
    ) -> None:
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.linger = linger
        self.max_queue = max_queue
        self._process = process
        self._arriving = arriving
        self._on_batch = on_batch
        self._queue: collections.deque[tuple[Job, int]] = collections.deque()
        self._queued_rows = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._worker: asyncio.Task[None] | None = None

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    def submit(self, job: Job, rows: int) -> None:
        """Queue ``job`` of ``rows`` rows; :class:`Rejected` (503, or 413 for a job that
        alone is over the bound) if it does not fit."""
        if self._closing:
            raise Rejected(503, "the server is shutting down; send the request again elsewhere")
        if rows > self.max_queue:
            raise Rejected(
                413,
                f"a request of {rows} rows is over the limit of {self.max_queue} rows; "
                "split it into smaller requests",
            )
        if self._queued_rows + rows > self.max_queue:
            raise Rejected(
                503,
                f"the server is busy: {self._queued_rows} rows wait for the model (the limit "
                f"is {self.max_queue}); retry in a moment",
            )
        self._queue.append((job, rows))
        self._queued_rows += rows
        self._idle.clear()
        self._wakeup.set()

    async def close(self) -> None:
        """Refuse new jobs, process the queued ones, then stop the worker."""
        self._closing = True
        self._wakeup.set()  # a lingering batch goes now
        await self._idle.wait()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    def _take(self, jobs: list[Job], rows: int) -> int:
        """Move queued jobs into ``jobs`` while they fit ``max_batch`` (a first job always
        fits, however large); the rows taken in all."""
        queue = self._queue
        while queue and (rows == 0 or rows + queue[0][1] <= self.max_batch):
            job, size = queue.popleft()
            jobs.append(job)
            rows += size
            self._queued_rows -= size
        return rows

    async def _fill(self, jobs: list[Job], rows: int, deadline: float) -> int:
        """Take jobs as they are submitted until the batch is full, the deadline passes or
        the batcher closes; the rows taken in all."""
        loop = asyncio.get_running_loop()
        while rows < self.max_batch and not self._closing and loop.time() < deadline:
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), deadline - loop.time())
            rows = self._take(jobs, rows)
        return rows

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
            jobs: list[Job] = []
            rows = self._take(jobs, 0)
            if not jobs:  # woken by close with nothing queued
                continue
            if rows < self.max_batch and self._arriving() > 0:
                deadline = loop.time() + self.max_wait
                while rows < self.max_batch and self._arriving() > 0 and loop.time() < deadline:
                    await asyncio.sleep(0)  # one turn of the loop: arriving requests queue
                    rows = self._take(jobs, rows)
            if self.linger:
                rows = await self._fill(jobs, rows, loop.time() + self.linger)
            self._on_batch(rows)
            try:
                await self._process(jobs)
            except Exception:  # process settles its jobs; this is a defect, not a request's
                logger.exception("a batch of %d rows failed outside the model", rows)
