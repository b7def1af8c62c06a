"""The monitoring page's history of an endpoint, downsampled in the database.

An endpoint's windows, oldest first, are cut into at most MAX_COLUMNS columns of
consecutive windows; each column has its windows' mean drift share, error rate and
accuracy, highest p99 latency and summed requests, and, per feature, the highest drift
score and the share of windows in which the feature drifted: the heat map. Both are one
``GROUP BY`` each, so 10,000 windows cost about what 100 do to draw. With no more windows
than columns, a column is one window and shows its own numbers.

>>> import tempfile
>>> from prodml.store.database import Database
>>> timeline(Database(f"sqlite:///{tempfile.mkdtemp()}/p.db"), "loans").windows
0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, cast, func, select

from prodml.store.database import Database
from prodml.store.monitoring import ChangePoint
from prodml.store.runs import as_utc
from prodml.store.tables import DriftScoreRow, MonitorWindowRow

MAX_COLUMNS = 120
#: the metrics each column shows, and how its windows' values combine
SERIES: dict[str, Callable[..., Any]] = {
    "drift_share": func.avg,
    "error_rate": func.avg,
    "accuracy": func.avg,
    "latency_p99_seconds": func.max,
    "requests": func.sum,
}


@dataclass(frozen=True)
class Column:
    """Consecutive windows of an endpoint: the first and last window's ids, when they
    start and end, how many windows and rows, and their combined metrics."""

    first_window: int
    last_window: int
    starts_at: datetime
    ends_at: datetime
    windows: int
    rows: int
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class Cell:
    """One feature in one column: its highest score, and the share of windows drifted."""

    score: float
    drifted: float


@dataclass(frozen=True)
class Timeline:
    """An endpoint's windows in columns, and the heat map of drift by feature."""

    endpoint: str
    windows: int
    columns: list[Column]
    heat: dict[str, list[Cell | None]]  # feature -> one cell per column

    @property
    def per_column(self) -> int:
        return max(1, math.ceil(self.windows / MAX_COLUMNS))

    def chart(self, change_points: Sequence[ChangePoint]) -> dict[str, Any]:
        """The columns' drift share, accuracy and error rate over time, and the change
        points, as the page's chart takes them (times in seconds since 1970)."""
        return {
            "x": [c.ends_at.timestamp() for c in self.columns],
            "series": {
                name.replace("_", " "): [c.metrics[name] for c in self.columns]
                for name in ("drift_share", "accuracy", "error_rate")
            },
            "marks": [p.started_at.timestamp() for p in change_points],
        }


def timeline(database: Database, endpoint: str) -> Timeline:
    """``endpoint``'s history, at most MAX_COLUMNS columns wide."""
    w, d = MonitorWindowRow, DriftScoreRow
    with database.reading() as session:
        count = session.scalar(select(func.count()).where(w.endpoint == endpoint)) or 0
        per = max(1, math.ceil(count / MAX_COLUMNS))
        ranked = select(
            w.id.label("id"), ((func.row_number().over(order_by=w.id) - 1) // per).label("col")
        ).where(w.endpoint == endpoint)
        ranked_windows = ranked.subquery()
        combined = [
            how(cast(w.metrics[name].as_float(), Float)).label(name) for name, how in SERIES.items()
        ]
        rows = session.execute(
            select(
                ranked_windows.c.col,
                func.min(w.id),
                func.max(w.id),
                func.min(w.starts_at),
                func.max(w.ends_at),
                func.count(),
                func.sum(w.rows),
                *combined,
            )
            .join(ranked_windows, ranked_windows.c.id == w.id)
            .group_by(ranked_windows.c.col)
            .order_by(ranked_windows.c.col)
        ).all()
        scores = session.execute(
            select(
                ranked_windows.c.col,
                d.column,
                func.max(d.score),
                func.avg(cast(d.drifted, Float)),
            )
            .join(ranked_windows, ranked_windows.c.id == d.window_id)
            .where(d.kind == "drift")
            .group_by(ranked_windows.c.col, d.column)
        ).all()
    columns = [_column(row) for row in rows]
    heat: dict[str, list[Cell | None]] = {}
    for col, feature, score, drifted in scores:
        heat.setdefault(feature, [None] * len(columns))[col] = Cell(score, drifted)
    return Timeline(endpoint, int(count), columns, dict(sorted(heat.items())))


def _column(row: Any) -> Column:
    _, first, last, starts, ends, windows, rows, *values = row
    return Column(
        first_window=first,
        last_window=last,
        starts_at=as_utc(starts) or starts,
        ends_at=as_utc(ends) or ends,
        windows=windows,
        rows=int(rows or 0),
        metrics=dict(zip(SERIES, values, strict=True)),
    )
