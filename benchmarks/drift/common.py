"""What both sides of the drift benchmark share, without prodml or Evidently.

The data: a reference and a current frame of ROWS rows each, 20 columns from seeded
generators: 15 numeric (floats; one with 1% missing values) and 5 categorical (pandas
categories; one with 2% missing values). The current frame's columns in SHIFTED come from
shifted generators, the others from the reference's generators with another seed. The
measures: wall time, and the process's peak resident memory (``ru_maxrss``, which Linux
keeps as the high-water mark of the process), data generation included on both sides.
``bench_prodml.py`` and ``bench_evidently.py`` import this, each in its own environment
with the same numpy: so both see the same rows.
"""

from __future__ import annotations

import contextlib
import json
import resource
import statistics
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.shared import timed, versions

ROWS = 1_000_000
SEED = 20241201
#: numeric column -> its generator, on the reference side and on the current side
NUMERIC: dict[str, tuple[str, tuple[float, ...], tuple[float, ...]]] = {
    "income": ("lognormal", (10.5, 0.6), (10.65, 0.6)),  # shifted
    "age": ("integers", (18, 91), (18, 91)),
    "score": ("normal", (650, 80), (690, 80)),  # shifted
    "ratio": ("beta", (2, 5), (2, 5)),
    "tenure_days": ("poisson", (400,), (400,)),
    "balance": ("normal", (2000, 1500), (2000, 1500)),  # 1% missing
    "clicks": ("poisson", (3,), (3,)),
    "latency_ms": ("exponential", (120,), (150,)),  # shifted
    "temperature": ("normal", (15, 9), (15, 9)),
    "items": ("geometric", (0.3,), (0.3,)),
    "discount": ("uniform", (0, 0.3), (0, 0.3)),
    "weight": ("gamma", (2, 10), (2, 10)),
    "height": ("normal", (170, 10), (170, 10)),
    "distance_km": ("lognormal", (2, 1), (2, 1)),
    "sessions": ("poisson", (12,), (12,)),
}
#: categorical column -> its values, their shares in the reference and in the current
CATEGORICAL: dict[str, tuple[list[str], list[float], list[float]]] = {
    "region": (["north", "south", "east", "west", "central"], [0.2] * 5, [0.2] * 5),
    "device": (
        ["desktop", "mobile", "tablet", "tv"],
        [0.5, 0.35, 0.1, 0.05],
        [0.5, 0.35, 0.1, 0.05],
    ),
    "channel": (  # shifted; 2% missing
        ["web", "app", "store", "phone", "partner", "email"],
        [0.4, 0.3, 0.1, 0.1, 0.05, 0.05],
        [0.25, 0.3, 0.1, 0.1, 0.15, 0.1],
    ),
    "plan": (["basic", "plus", "premium"], [0.6, 0.3, 0.1], [0.35, 0.35, 0.3]),  # shifted
    "state": ([f"state_{i:02d}" for i in range(50)], [0.02] * 50, [0.02] * 50),
}
SHIFTED = ("income", "score", "latency_ms", "channel", "plan")

#: column -> what each side found: "method", "score", "drifted"
Found = dict[str, dict[str, Any]]


def frame(side: int) -> pd.DataFrame:
    """The reference (side 0) or the current frame (side 1); always the same rows."""
    rng = np.random.default_rng([SEED, side])
    columns: dict[str, Any] = {}
    for name, (generator, *parameters) in NUMERIC.items():
        values = getattr(rng, generator)(*parameters[side], ROWS).astype(np.float64)
        if name == "balance":
            values[rng.random(ROWS) < 0.01] = np.nan
        columns[name] = values
    for name, (values, *shares) in CATEGORICAL.items():
        codes = rng.choice(len(values), ROWS, p=shares[side]).astype(np.int8)
        if name == "channel":
            codes[rng.random(ROWS) < 0.02] = -1  # missing
        columns[name] = pd.Categorical.from_codes(codes, values)
    return pd.DataFrame(columns)


def peak_mib() -> float:
    """The peak resident memory of this process so far, in MiB (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summary(seconds: list[float]) -> dict[str, Any]:
    return {"min": min(seconds), "median": statistics.median(seconds), "all": seconds}


def report(
    tool: str, run: Callable[[pd.DataFrame, pd.DataFrame], Found], repeats: int, warm_up: bool
) -> None:
    """Generate both frames, time ``run`` on them ``repeats`` times, print one JSON object.

    Called as ``main`` of a bench script; whatever the tools print goes to stderr. What
    was found is the last run's; the peak memory is the process's at its end.
    """
    with contextlib.redirect_stdout(sys.stderr):
        started = peak_mib()
        reference, current = frame(0), frame(1)
        generated = peak_mib()
        if warm_up:  # imports, first allocations
            run(reference, current)
        seconds, found = [], {}
        for _ in range(repeats):
            took, found = timed(lambda: run(reference, current))
            seconds.append(took)
    result = {
        "versions": versions(tool, "numpy", "pandas", "scipy"),
        "rows": ROWS,
        "columns": {"numeric": len(NUMERIC), "categorical": len(CATEGORICAL)},
        "shifted": list(SHIFTED),
        "seconds": summary(seconds),
        "peak_mib": {"after_imports": started, "after_data": generated, "end": peak_mib()},
        "found": found,
    }
    print(json.dumps(result, indent=2))
