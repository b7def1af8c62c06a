"""The review queue on SQLite and PostgreSQL: leases by priority, never the same item to
two reviewers (processes taking items at once), answers only from the holder, N answers
to an item, and the majority label stored as the request's feedback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from prodml.errors import ConfigError, NotFoundError, ReviewError
from prodml.serve.prediction_log import PredictionLog, entry
from prodml.store.database import Database
from prodml.store.monitoring import Monitoring
from prodml.store.review import NewItem, ReviewQueue, item_rows
from prodml.store.runs import utc_now

if TYPE_CHECKING:
    from tests.conftest import Together


@pytest.fixture
def queue(database_url: str) -> Iterator[ReviewQueue]:
    database = Database(database_url)
    yield ReviewQueue(database)
    database.dispose()


def logged(queue: ReviewQueue, queued: list[NewItem], role: str = "primary") -> None:
    """Log the predictions the items stand for, as the server would have (in ``role``)."""
    log = PredictionLog(queue.database)
    try:
        answer = {"label": 1, "probabilities": {"0": 0.45, "1": 0.55}}
        rows = [
            entry(
                i.request_id,
                i.endpoint,
                i.endpoint,
                1,
                i.inputs or {},
                answer,
                0.001,
                role=role,
                classes=[0, 1],
            )
            for i in queued
        ]
        log.write(rows).result()
    finally:
        log.close()


def items(endpoint: str, count: int, **options: object) -> list[NewItem]:
    return [
        NewItem(
            request_id=uuid4().hex,
            endpoint=endpoint,
            inputs={"income": 1000.0 * i, "region": "north"},
            reason="low_confidence",
            suggestion={"label": 1, "confidence": 0.5 + i / 1000},
            priority=float(i % 5),
            model_version=1,
            **options,  # type: ignore[arg-type]
        )
        for i in range(count)
    ]


def test_reviewers_are_leased_the_highest_priority_first_and_never_the_same_item(
    queue: ReviewQueue,
) -> None:
    endpoint = uuid4().hex
    queued = items(endpoint, 12)
    assert queue.add(queued) == 12 and queue.add(queued[:3]) == 0  # a request once

    ana = queue.next("ana", endpoint)
    ben = queue.next("ben", endpoint)

    assert ana is not None and ben is not None and ana.id != ben.id
    expected = sorted(queued, key=lambda i: -i.priority)[:2]  # ties: the older first
    assert [ana.request_id, ben.request_id] == [i.request_id for i in expected]
    assert ana.leased_by == "ana" and ana.lease_until is not None
    assert ana.suggestion == expected[0].suggestion and ana.inputs == expected[0].inputs


def test_an_item_queued_without_inputs_shows_those_its_request_was_answered_with(
    queue: ReviewQueue,
) -> None:
    """The server queues items without a copy of the inputs: they are read from the
    request's log row, not from a shadow's copy of it."""
    endpoint = uuid4().hex
    queued = items(endpoint, 3)
    shadowed = [replace(i, inputs={"income": -1.0, "region": "shadow"}) for i in queued]
    logged(queue, shadowed, role="shadow")
    logged(queue, queued)
    assert queue.add([replace(i, inputs=None) for i in queued]) == 3

    listed = {i.request_id: i.inputs for i in queue.items(endpoint)}
    held = queue.next("ana", endpoint)

    assert listed == {i.request_id: i.inputs for i in queued}
    assert held is not None and held.inputs == listed[held.request_id]


def test_only_the_holder_answers_and_the_answer_becomes_feedback(queue: ReviewQueue) -> None:
    endpoint = uuid4().hex
    queued = items(endpoint, 2)
    queue.add(queued)
    logged(queue, queued)
    held = queue.next("ana", endpoint)
    assert held is not None

    with pytest.raises(
        ReviewError, match=f"request {held.request_id} is leased to ana, not to ben"
    ):
        queue.answer(held.request_id, "ben", 0)
    with pytest.raises(ConfigError, match="label 7 is not a class of this model; give one of"):
        queue.answer(held.request_id, "ana", 7)  # the logged model's classes are 0 and 1
    done = queue.answer(held.request_id, "ana", "0", note="income too low")  # as text

    assert done.done_at is not None and done.answers_given == 1 and done.leased_by is None
    with pytest.raises(ReviewError, match="was already answered"):
        queue.answer(held.request_id, "ana", 1)
    labels = Monitoring(queue.database).labels([held.request_id])
    assert labels == {held.request_id: 0}
    assert queue.answers(held.request_id)[0]["note"] == "income too low"
    with pytest.raises(NotFoundError, match="no review item for request nope"):
        queue.answer("nope", "ana", 0)


def test_an_item_asking_for_three_answers_takes_three_reviewers_and_keeps_the_majority(
    queue: ReviewQueue,
) -> None:
    endpoint = uuid4().hex
    (item,) = items(endpoint, 1, answers_needed=3)
    queue.add([item])
    logged(queue, [item])
    for reviewer, label in (("ana", 1), ("ben", 0), ("cy", 1)):
        held = queue.next(reviewer, endpoint)
        assert held is not None and held.request_id == item.request_id
        again = queue.next(reviewer, endpoint)  # a holder may take it again (a new lease)
        assert again is not None and again.id == held.id
        queue.answer(item.request_id, reviewer, label)
        assert queue.next(reviewer, endpoint) is None  # answered: not offered again

    assert Monitoring(queue.database).labels([item.request_id]) == {item.request_id: 1}
    assert queue.items(endpoint) == []
    assert [a["reviewer"] for a in queue.answers(item.request_id)] == ["ana", "ben", "cy"]


def test_a_lease_that_ran_out_returns_the_item_and_its_holder_can_no_longer_answer(
    queue: ReviewQueue,
) -> None:
    endpoint = uuid4().hex
    queue.add(items(endpoint, 1))
    past = utc_now() - timedelta(hours=1)
    held = queue.next("ana", endpoint, lease=timedelta(minutes=10), now=past)
    assert held is not None

    with pytest.raises(ReviewError, match=r"ana's lease of request .* ended at"):
        queue.answer(held.request_id, "ana", 1)
    again = queue.next("ben", endpoint)
    assert again is not None and again.request_id == held.request_id


def test_the_backlog_counts_open_items_and_their_age(queue: ReviewQueue) -> None:
    endpoint = uuid4().hex
    queue.add(items(endpoint, 4))
    size, age = queue.backlog(endpoint, now=utc_now() + timedelta(seconds=100))
    assert size == 4 and age is not None and 99 < age < 130
    assert queue.backlog(uuid4().hex) == (0, None)


def test_bad_items_are_refused_naming_the_value(queue: ReviewQueue) -> None:
    (item,) = items("x", 1)
    with pytest.raises(ConfigError, match="review reason 'bored' is not one of"):
        queue.add([NewItem(item.request_id, "x", {}, "bored")])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="answers_needed is 0"):
        queue.add([NewItem(item.request_id, "x", {}, "fallback", answers_needed=0)])


TAKER = """
import sys
from pathlib import Path
import time
from prodml.serve.prediction_log import PredictionLog, entry
from prodml.store.database import Database
from prodml.store.review import ReviewQueue
url, endpoint, reviewer, go = sys.argv[1:]
queue = ReviewQueue(Database(url))
print("ready", flush=True)
while not Path(go).exists():
    time.sleep(0.01)
while (item := queue.next(reviewer, endpoint)) is not None:
    queue.answer(item.request_id, reviewer, 1)
    print(item.request_id, flush=True)
"""


def test_reviewers_in_four_processes_at_once_never_get_the_same_item(
    database_url: str, together: Together
) -> None:
    endpoint = uuid4().hex
    database = Database(database_url)
    queue = ReviewQueue(database)
    queued = items(endpoint, 120)
    queue.add(queued)
    logged(queue, queued)

    results = together([(TAKER, [database_url, endpoint, f"r{i}"]) for i in range(4)])
    database.dispose()

    assert all(code == 0 for code, _, _ in results), [err[-2000:] for _, _, err in results]
    taken = [line for _, out, _ in results for line in out.split()]  # "ready" was read
    assert sorted(taken) == sorted(i.request_id for i in queued)  # each once, none lost
    assert sum(bool(out.split()) for _, out, _ in results) >= 2  # they did overlap


def test_items_committed_with_the_log_are_queued_once_each_the_first_kept(
    queue: ReviewQueue,
) -> None:
    """The prediction log commits a group's items in statements of many rows: 150 items
    take three, one of them repeats a request id of the group and one a request queued
    before; each request is queued once, with what was first given for it."""
    endpoint = uuid4().hex
    queued = items(endpoint, 150)
    assert queue.add(queued[:1]) == 1
    repeated = replace(queued[7], priority=99.0, suggestion=None)
    earlier = replace(queued[0], priority=98.0)
    log = PredictionLog(queue.database)
    try:
        group = [*queued[1:], repeated, earlier]
        log.write([], lambda: item_rows(group, utc_now())).result()
    finally:
        log.close()

    held = {
        i.request_id: (i.priority, i.suggestion, i.inputs) for i in queue.items(endpoint, limit=500)
    }
    assert held == {i.request_id: (i.priority, i.suggestion, i.inputs) for i in queued}
