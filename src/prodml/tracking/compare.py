"""Runs side by side: what they ran on, their parameters and their metrics.

>>> from datetime import datetime, UTC
>>> from prodml.store.runs import Run
>>> a = Run("a1", None, "p", "fit", "finished", datetime.now(UTC), None, "h", 1,
...         params={"C": 1.0}, metrics={"test.accuracy": 0.9})
>>> b = Run("b2", None, "p", "fit", "finished", datetime.now(UTC), None, "h", 1,
...         params={"C": 10.0}, metrics={"test.accuracy": 0.9})
>>> [(r.name, r.differs) for r in compare([a, b]).rows if r.section != "run"]
[('C', True), ('test.accuracy', False)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prodml.errors import NotFoundError
from prodml.store.runs import Run


@dataclass(frozen=True)
class Row:
    section: str  # "run", "params" or "metrics"
    name: str
    values: tuple[Any, ...]  # one per run; None where a run has no such value

    @property
    def differs(self) -> bool:
        return any(v != self.values[0] for v in self.values[1:])


@dataclass(frozen=True)
class Comparison:
    runs: tuple[Run, ...]
    rows: tuple[Row, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": [r.id for r in self.runs],
            "rows": [
                {
                    "section": r.section,
                    "name": r.name,
                    "values": list(r.values),
                    "differs": r.differs,
                }
                for r in self.rows
            ],
        }


def compare(runs: list[Run]) -> Comparison:
    """Line up the runs' facts, parameters and metrics, one row per name."""
    if len(runs) < 2:
        raise NotFoundError(
            f"comparing needs at least two runs, got {len(runs)}; "
            "fit again or name the runs: prodml runs compare RUN RUN"
        )
    facts: dict[str, Callable[[Run], Any]] = {
        "kind": lambda r: r.kind,
        "status": lambda r: r.status,
        "model": lambda r: (r.model_spec or {}).get("factory"),
        "data": lambda r: (r.data_fingerprint or "")[:12] or None,
        "rows": lambda r: r.data_rows,
        "split": lambda r: (r.split or {}).get("method"),
        "code": lambda r: _code(r),
        "fit seconds": lambda r: None if r.fit_seconds is None else round(r.fit_seconds, 3),
        "peak memory MiB": lambda r: (
            None if r.peak_memory_bytes is None else round(r.peak_memory_bytes / 2**20, 1)
        ),
    }
    rows = [Row("run", name, tuple(get(r) for r in runs)) for name, get in facts.items()]
    for section in ("params", "metrics"):
        names = sorted(
            {name for r in runs for name in (getattr(r, section) or {})},
            key=_metric_order if section == "metrics" else str,
        )
        rows += [
            Row(section, name, tuple((getattr(r, section) or {}).get(name) for r in runs))
            for name in names
        ]
    return Comparison(tuple(runs), tuple(rows))


def _code(run: Run) -> str | None:
    if run.code_commit is None:
        return None
    return run.code_commit[:10] + ("+dirty" if run.code_dirty else "")


def _metric_order(name: str) -> tuple[int, str]:
    split = name.split(".", 1)[0]
    order = {"test": 0, "dev": 1, "train": 2, "cv": 3}
    return order.get(split, 4), name
