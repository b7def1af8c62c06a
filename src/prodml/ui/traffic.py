"""Live traffic: an endpoint's last minutes from the prediction log, at full resolution.

Requests and latency percentiles per model version and role (primary, canary, shadow),
and errors per version and status, from the store, so every server writing to it is
counted. The log is read backwards from its newest row by id (ids grow with time), at
most MAX_ROWS rows, so a look costs the minutes it shows, not the size of the log.

>>> import tempfile
>>> from prodml.store.database import Database
>>> found = traffic(Database(f"sqlite:///{tempfile.mkdtemp()}/p.db"), "loans", 60)
>>> found.requests, found.arms
(0, [])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select

from prodml.store.database import Database
from prodml.store.log_format import Stream
from prodml.store.monitoring import Monitoring
from prodml.store.runs import utc_now
from prodml.store.tables import PredictionRow, RequestErrorRow

#: the most predictions one look reads (an endpoint answering 1,000 a second: 200 s)
MAX_ROWS = 200_000
#: how many buckets the requests-over-time series has
BUCKETS = 60


@dataclass(frozen=True)
class Arm:
    """One model version in one role: its requests, their rate, latency percentiles,
    and its requests per bucket of the series."""

    version: int
    role: str
    requests: int
    per_second: float
    latency_p50_seconds: float
    latency_p95_seconds: float
    latency_p99_seconds: float
    series: list[int]


@dataclass(frozen=True)
class Errors:
    """Requests answered with an error, per version routed to (None: none) and status."""

    version: int | None
    status: int
    count: int


@dataclass(frozen=True)
class Traffic:
    """What an endpoint answered from ``since`` to ``until``."""

    endpoint: str
    since: datetime
    until: datetime
    bucket_seconds: float
    arms: list[Arm]
    errors: list[Errors]

    @property
    def requests(self) -> int:
        return sum(arm.requests for arm in self.arms if arm.role != "shadow")

    def chart(self) -> dict[str, Any]:
        """Requests per bucket of each version and role, as the page's chart takes them
        (bucket starts in seconds since 1970)."""
        first = self.since.timestamp()
        return {
            "x": [first + i * self.bucket_seconds for i in range(BUCKETS)],
            "series": {f"{arm.version} {arm.role}": arm.series for arm in self.arms},
            "marks": [],
        }


def traffic(database: Database, endpoint: str, seconds: float) -> Traffic:
    """``endpoint``'s last ``seconds`` of traffic."""
    until = utc_now()
    since = until - timedelta(seconds=seconds)
    streams = Monitoring(database).streams(endpoint)
    step = seconds / BUCKETS
    arms: list[Arm] = []
    errors: list[Errors] = []
    with database.reading() as session:
        if streams:
            p = PredictionRow
            newest = session.scalar(select(func.max(p.id))) or 0
            rows = session.execute(
                select(p.stream_id, p.at_us, p.latency_us).where(
                    p.id > newest - MAX_ROWS,
                    p.stream_id.in_(list(streams)),
                    p.at_us >= int(since.timestamp() * 1e6),
                )
            ).all()
            arms = _arms(rows, streams, since, step)
        e = RequestErrorRow
        counted = session.execute(
            select(e.model_version, e.status, func.count())
            .where(e.endpoint == endpoint, e.created_at >= since, e.protocol != "shadow")
            .group_by(e.model_version, e.status)
            .order_by(e.model_version, e.status)
        ).all()
        errors = [Errors(version, status, count) for version, status, count in counted]
    return Traffic(endpoint, since, until, step, arms, errors)


def _arms(
    rows: Sequence[Any], streams: dict[int, Stream], since: datetime, step: float
) -> list[Arm]:
    if not rows:
        return []
    table = np.array(rows, dtype=np.int64)
    start = since.timestamp()
    # one arm a (version, role): a version's streams differ by input columns or decider
    keys = [(streams[s].model_version, streams[s].role) for s in table[:, 0]]
    found = []
    for version, role in sorted(set(keys)):  # (version, role) pairs, few
        mine = np.fromiter((key == (version, role) for key in keys), bool, len(keys))
        at = table[mine, 1] / 1e6
        latency = table[mine, 2] / 1e6
        bucket = np.clip(((at - start) / step).astype(int), 0, BUCKETS - 1)
        p50, p95, p99 = (float(q) for q in np.quantile(latency, [0.5, 0.95, 0.99]))
        count = int(mine.sum())
        series = np.bincount(bucket, minlength=BUCKETS).tolist()
        found.append(Arm(version, role, count, count / (step * BUCKETS), p50, p95, p99, series))
    return found
