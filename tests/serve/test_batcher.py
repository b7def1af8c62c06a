"""The adaptive micro-batcher on a real event loop: a lone request goes at once, requests
arriving together share a batch, the queue is bounded, closing drains it."""

from __future__ import annotations

import asyncio
import time

import pytest

from prodml.serve.batcher import Batcher
from prodml.serve.rejection import Rejected


class Recorder:
    """A ``process`` that records each batch and answers each job with its batch number."""

    def __init__(self, pause: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.pause = pause

    async def __call__(self, jobs: list[tuple[str, asyncio.Future[int]]]) -> None:
        self.batches.append([name for name, _ in jobs])
        if self.pause:
            await asyncio.sleep(self.pause)
        for _, done in jobs:
            done.set_result(len(self.batches))


def job(name: str) -> tuple[str, asyncio.Future[int]]:
    return name, asyncio.get_running_loop().create_future()


def test_an_idle_server_answers_a_lone_request_at_once() -> None:
    async def scenario() -> float:
        batcher = Batcher(Recorder(), max_wait=10.0)  # a fixed wait would show
        batcher.start()
        one = job("one")
        start = time.perf_counter()
        batcher.submit(one, 1)
        await one[1]
        elapsed = time.perf_counter() - start
        await batcher.close()
        return elapsed

    assert asyncio.run(scenario()) < 0.5


def test_requests_queued_while_a_batch_runs_share_the_next_batch() -> None:
    async def scenario() -> list[list[str]]:
        recorder = Recorder(pause=0.05)
        batcher = Batcher(recorder, max_batch=4)
        batcher.start()
        jobs = [job(f"r{i}") for i in range(7)]
        batcher.submit(jobs[0], 1)
        await asyncio.sleep(0.01)  # r0 is being processed; the rest arrive meanwhile
        for each in jobs[1:]:
            batcher.submit(each, 1)
        await asyncio.gather(*(done for _, done in jobs))
        await batcher.close()
        return recorder.batches

    assert asyncio.run(scenario()) == [["r0"], ["r1", "r2", "r3", "r4"], ["r5", "r6"]]


def test_a_batch_waits_for_requests_still_arriving_but_not_longer_than_max_wait() -> None:
    async def scenario() -> list[list[str]]:
        recorder = Recorder()
        arriving = [1]
        batcher = Batcher(recorder, max_wait=0.05, arriving=lambda: arriving[0])
        batcher.start()
        first, second = job("first"), job("second")
        batcher.submit(first, 1)
        await asyncio.sleep(0)
        batcher.submit(second, 1)  # arrives while the batch waits
        arriving[0] = 0
        await asyncio.gather(first[1], second[1])
        await batcher.close()
        return recorder.batches

    assert asyncio.run(scenario()) == [["first", "second"]]


def test_a_lingering_batcher_gathers_jobs_submitted_one_by_one_until_full_or_late() -> None:
    async def scenario() -> tuple[list[list[str]], float, float]:
        recorder = Recorder()
        batcher = Batcher(recorder, max_batch=5, linger=0.3)
        batcher.start()
        jobs = [job(f"r{i}") for i in range(7)]
        start = time.perf_counter()
        for each in jobs:  # one at a time, as a shadow's copies come
            batcher.submit(each, 1)
            await asyncio.sleep(0.005)
        await jobs[4][1]
        full = time.perf_counter() - start  # the first five: the batch filled
        await asyncio.gather(*(done for _, done in jobs))
        late = time.perf_counter() - start  # the last two: only after the linger
        await batcher.close()
        return recorder.batches, full, late

    batches, full, late = asyncio.run(scenario())
    assert batches == [["r0", "r1", "r2", "r3", "r4"], ["r5", "r6"]]
    assert full < 0.25 <= late  # full before the linger ran out; the rest waited for it


def test_closing_a_lingering_batcher_does_not_wait_out_the_linger() -> None:
    async def scenario() -> float:
        batcher = Batcher(Recorder(), linger=30.0)
        batcher.start()
        one = job("one")
        batcher.submit(one, 1)
        await asyncio.sleep(0.01)
        start = time.perf_counter()
        await batcher.close()
        assert one[1].result() == 1
        return time.perf_counter() - start

    assert asyncio.run(scenario()) < 1.0


def test_a_full_queue_sheds_load_with_503_and_a_huge_request_gets_413() -> None:
    async def scenario() -> None:
        batcher = Batcher(Recorder(), max_queue=10)  # not started: nothing leaves the queue
        batcher.submit(job("a"), 8)
        with pytest.raises(Rejected, match="the server is busy: 8 rows wait") as busy:
            batcher.submit(job("b"), 3)
        assert busy.value.status == 503
        with pytest.raises(Rejected, match="a request of 11 rows is over the limit of 10") as big:
            batcher.submit(job("c"), 11)
        assert big.value.status == 413

    asyncio.run(scenario())


def test_closing_answers_what_is_queued_and_refuses_the_rest() -> None:
    async def scenario() -> None:
        recorder = Recorder(pause=0.01)
        batcher = Batcher(recorder, max_batch=1)
        batcher.start()
        jobs = [job(f"r{i}") for i in range(3)]
        for each in jobs:
            batcher.submit(each, 1)
        await batcher.close()
        assert all(done.done() for _, done in jobs)
        with pytest.raises(Rejected, match="shutting down"):
            batcher.submit(job("late"), 1)

    asyncio.run(scenario())
