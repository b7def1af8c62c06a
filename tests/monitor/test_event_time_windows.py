"""Windows of event time: rows out of order within the lateness land in the windows a
direct group-by of their time slot gives; rows later than that are counted as
``late_rows``, never scored twice; a replay of history gets a window an hour; a model
whose traffic stopped still gets its last window by the clock; and two passes with rows
arriving in between count every row exactly once, in a window or as late."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import numpy as np
import pandas as pd
import pytest

from prodml.config import MonitorSettings
from prodml.data.schema import infer_schema
from prodml.monitor.monitor import Monitor
from prodml.monitor.scoring import Reference
from prodml.monitor.window import Cutter
from prodml.serve.prediction_log import PredictionLog, entry
from prodml.store.database import Database
from prodml.store.log_columns import LogColumns
from prodml.store.monitoring import Logged, Monitoring

START = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = 3600.0
LATENESS = 300.0  # five minutes
LONG_AFTER = START + timedelta(days=2)  # the clock when the monitor runs, in the unit tests


def row(i: int, event: datetime, arrived: datetime, version: int = 1) -> Logged:
    return Logged(
        i, f"r{i}", event, "m", version, {}, {"label": 1}, 0.9, 0.01, None, "model", arrived
    )


def shuffled(count: int, seed: int, spread: float) -> list[Logged]:
    """``count`` rows of two versions with event times over three hours, logged in the
    order of their time plus a delay of up to ``spread`` seconds (arrivals: a second
    apart, long before LONG_AFTER)."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0, 3 * HOUR, count))
    order = np.argsort(times + rng.uniform(0, spread, count), kind="stable")
    versions = rng.integers(1, 3, count)
    return [
        row(i, START + timedelta(seconds=float(times[k])), START + timedelta(seconds=i), int(v))
        for i, (k, v) in enumerate(zip(order, versions[order], strict=True), 1)
    ]


def cut(rows: list[Logged], chunk: int, **options: object) -> list[tuple[list[int], int]]:
    """Each window's row ids and late rows, the log read ``chunk`` rows at a time."""
    chunks = [LogColumns.of(rows[s : s + chunk]) for s in range(0, len(rows), chunk)]
    cutter = Cutter(HOUR, options.pop("now", LONG_AFTER), lateness=LATENESS, **options)  # type: ignore[arg-type]
    return [(c.rows.id.tolist(), c.late) for c in cutter.cut(chunks)]


def grouped(rows: list[Logged]) -> list[list[int]]:
    """The reference: the ids of each (version, hour) group, sorted."""
    frame = pd.DataFrame(
        {
            "id": [r.id for r in rows],
            "version": [r.model_version for r in rows],
            "slot": [math.floor(r.created_at.timestamp() / HOUR) for r in rows],
        }
    )
    return sorted(sorted(ids) for ids in frame.groupby(["version", "slot"])["id"].apply(list))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("chunk", [1, 7, 100, 10_000])
def test_rows_shuffled_within_the_lateness_fill_the_windows_of_their_time_slot(
    seed: int, chunk: int
) -> None:
    rows = shuffled(600, seed, spread=LATENESS * 0.9)
    assert any(a.created_at > b.created_at for a, b in itertools.pairwise(rows))
    found = cut(rows, chunk)
    assert sorted(sorted(ids) for ids, _ in found) == grouped(rows)
    assert [late for _, late in found] == [0] * 6


@pytest.mark.parametrize("chunk", [1, 5, 10_000])
def test_rows_later_than_the_lateness_are_counted_not_scored(chunk: int) -> None:
    """A row is late when its model's newest time read before it is past its slot's end
    plus the lateness (a direct computation); it is in no window, and the late rows of a
    model add up in its windows' late_rows."""
    rows = shuffled(900, 7, spread=2 * HOUR)  # many rows come long after their hour
    newest: dict[int, float] = {}
    late = set()
    for r in rows:
        seconds = r.created_at.timestamp()
        end = (math.floor(seconds / HOUR) + 1) * HOUR
        if end + LATENESS <= newest.get(r.model_version, -math.inf):
            late.add(r.id)
        newest[r.model_version] = max(newest.get(r.model_version, -math.inf), seconds)
    assert 50 < len(late) < 600
    found = cut(rows, chunk, close=True)
    assert sorted(sorted(ids) for ids, _ in found) == grouped([r for r in rows if r.id not in late])
    assert sum(count for _, count in found) == len(late)


def test_a_replay_of_three_hours_in_one_pass_gives_a_window_an_hour() -> None:
    """Arriving within a minute, three hours of events: by arrival they were one window."""
    events = [START + timedelta(seconds=10 * k) for k in range(1_080)]  # 0:00 to 2:59:50
    arrived = START + timedelta(days=30)
    rows = [row(i, at, arrived + timedelta(milliseconds=50 * i)) for i, at in enumerate(events, 1)]
    found = cut(rows, 200, now=arrived + timedelta(minutes=10))
    assert [len(ids) for ids, _ in found] == [360, 360, 360]
    assert cut(rows, 200, now=arrived + timedelta(seconds=30)) == found[:2]  # still arriving


def test_a_window_of_a_model_gone_quiet_closes_by_the_clock() -> None:
    """Rows without an event time (their time is their arrival): the last hour closes once
    the clock is past its end and the lateness, and no row came in the last 5 minutes."""
    rows = [row(i, START + timedelta(minutes=i), START + timedelta(minutes=i)) for i in range(90)]
    at_end = START + timedelta(hours=2, seconds=LATENESS)
    assert [len(ids) for ids, _ in cut(rows, 16, now=at_end)] == [60, 30]
    assert [len(ids) for ids, _ in cut(rows, 16, now=at_end - timedelta(seconds=1))] == [60]
    # events of an hour long past, still arriving: the hour waits for them
    replayed = [*rows, row(90, START + timedelta(minutes=89), at_end - timedelta(seconds=60))]
    assert [len(ids) for ids, _ in cut(replayed, 16, now=at_end)] == [60]


# --- two passes of the monitor over a store -----------------------------------------------


@pytest.fixture
def store(database_url: str) -> Iterator[Monitoring]:
    database = Database(database_url)
    yield Monitoring(database)
    database.dispose()


def log(store: Monitoring, endpoint: str, events: list[datetime], arrived: datetime) -> None:
    """Log predictions of ``events`` (their times), all arriving at ``arrived``."""
    written = PredictionLog(store.database)
    entries = [
        entry(
            f"{endpoint[-12:]}-{arrived:%H%M}-{k}",
            endpoint,
            "m",
            1,
            {"x": float(k)},
            {"label": 1},
            0.01,
            created_at=arrived,
            event_at=at,
        )
        for k, at in enumerate(events)
    ]
    written.write(entries).result()
    written.close()


def monitor(store: Monitoring, now: datetime) -> Monitor:
    reference = Reference(
        "classification", infer_schema(pd.DataFrame({"x": [0.0, 1.0]})), None, None, None
    )
    settings = MonitorSettings(window="1h", lateness="5m", min_rows=1)
    return Monitor(store, settings, lambda n, v, r: reference, now=lambda: now)


def hour(at: datetime) -> int:
    return math.floor((at - START).total_seconds() / HOUR)


def test_two_passes_with_rows_arriving_out_of_order_count_every_row_once(
    store: Monitoring,
) -> None:
    endpoint = f"events-{uuid4().hex}"
    rng = np.random.default_rng(11)
    seconds = np.sort(rng.uniform(0, 2 * HOUR, 400))
    first = [START + timedelta(seconds=float(s)) for s in seconds]
    first.append(START + timedelta(hours=2, minutes=30))  # moves the watermark past 2:05
    arrived = START + timedelta(days=1)
    log(store, endpoint, first, arrived)
    one = monitor(store, arrived + timedelta(seconds=1)).run(endpoint)
    assert [w.rows for w in one.windows] == [sum(hour(t) == h for t in first) for h in (0, 1)]

    # then rows of all four hours, shuffled, and one at 3:59: those of the first two hours
    # are late, and so is a row of the third logged after one past 3:05
    second = [START + timedelta(seconds=float(s)) for s in rng.uniform(0, 4 * HOUR, 300)]
    second.append(START + timedelta(hours=3, minutes=59))
    log(store, endpoint, second, arrived + timedelta(minutes=1))
    newest, late, kept = first[-1], 0, [1, 0]  # kept: rows of hours 2 and 3 in windows
    for at in second:
        if hour(at) < 2 or (hour(at) + 1) * HOUR + LATENESS <= (newest - START).total_seconds():
            late += 1
        else:
            kept[hour(at) - 2] += 1
        newest = max(newest, at)
    assert 100 < late < 250
    two = monitor(store, arrived + timedelta(minutes=30)).run(endpoint)
    assert [w.rows for w in two.windows] == kept
    assert [w.metrics["late_rows"] for w in two.windows] != [0, 0]
    assert monitor(store, arrived + timedelta(minutes=31)).run(endpoint, close=True).windows == []

    windows = store.windows(endpoint)
    assert [w.starts_at for w in windows] == [START + timedelta(hours=h) for h in range(4)]
    assert sum(w.metrics["late_rows"] for w in windows) == late
    assert sum(w.rows for w in windows) + late == len(first) + len(second)
