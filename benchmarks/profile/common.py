"""What every script of the reference-profile benchmark shares: the file and the measures.

The file: ROWS rows of 21 columns (12 numeric, one datetime, two boolean, six of text or
categories, some with missing values) from a seeded generator, written one row group of
GROUP_ROWS rows at a time, so that writing it never holds more than one group in memory.
The measures: each side runs in its own process and reports its wall time and its peak
resident memory (``ru_maxrss``, which Linux keeps as the high-water mark of the process).
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow has no type stubs
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from benchmarks.shared import versions

ROWS = 10_000_000
GROUP_ROWS = 1_000_000
SEED = 20241122
REGIONS = ["north", "south", "east", "west", "central"]
STATES = [f"state_{i:02d}" for i in range(50)]
DEVICES = ["desktop", "mobile", "tablet", "tv"]
CHANNELS = ["web", "app", "store", "phone", "partner", "email"]
PLANS = ["basic", "plus", "premium"]
MERCHANTS = [f"merchant_{i:05d}" for i in range(20_000)]  # more than max_categories
START = np.datetime64("2024-01-01T00:00:00", "s")
YEAR = 366 * 24 * 3600


def group(index: int, rows: int) -> pa.Table:
    """One row group; group ``index`` always gets the same rows."""
    rng = np.random.default_rng([SEED, index])

    def text(values: list[str], p: np.ndarray | None = None, missing: float = 0.0) -> pa.Array:
        codes = rng.choice(len(values), rows, p=p).astype(np.int32)
        mask = rng.random(rows) < missing if missing else None
        codes = pa.array(codes, mask=mask)
        return pa.DictionaryArray.from_arrays(codes, pa.array(values)).cast(pa.string())

    def holes(values: np.ndarray, share: float) -> np.ndarray:
        return np.where(rng.random(rows) < share, np.nan, values)

    seconds = rng.integers(0, YEAR, rows)
    device = pa.DictionaryArray.from_arrays(  # stays a dictionary: pandas reads a category
        rng.integers(0, len(DEVICES), rows).astype(np.int32), pa.array(DEVICES)
    )
    columns = {
        "id": np.arange(index * GROUP_ROWS, index * GROUP_ROWS + rows, dtype=np.int64),
        "event_time": pa.array(START + seconds.astype("timedelta64[s]")),
        "amount": np.round(rng.lognormal(3.5, 1.2, rows), 2),
        "income": holes(np.round(rng.lognormal(10.8, 0.5, rows), -1), 0.03),
        "age": rng.integers(18, 91, rows),
        "score": rng.normal(650, 80, rows),
        "ratio": rng.beta(2.0, 5.0, rows),
        "tenure_days": rng.poisson(400, rows),
        "balance": holes(rng.normal(2_000, 1_500, rows), 0.01),
        "clicks": rng.poisson(3, rows),
        "latency_ms": rng.exponential(120, rows),
        "temperature": rng.normal(15, 9, rows),
        "items": rng.geometric(0.3, rows),
        "fraud": rng.random(rows) < 0.002,
        "new_customer": rng.random(rows) < 0.25,
        "region": text(REGIONS),
        "state": text(STATES),
        "device": device,
        "merchant": text(MERCHANTS),
        "channel": text(CHANNELS, np.array([0.4, 0.3, 0.1, 0.1, 0.05, 0.05]), missing=0.02),
        "plan": text(PLANS, np.array([0.6, 0.3, 0.1])),
    }
    return pa.table(columns)


def write(path: Path) -> None:
    """Write the ROWS rows to a Parquet file, one row group at a time."""
    writer = None
    for index in range(-(-ROWS // GROUP_ROWS)):
        table = group(index, min(GROUP_ROWS, ROWS - index * GROUP_ROWS))
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=GROUP_ROWS)
    if writer is not None:
        writer.close()


def describe(path: Path) -> dict[str, Any]:
    """Rows, columns, row groups and bytes of the file, from its footer."""
    metadata = pq.ParquetFile(path).metadata
    return {
        "rows": metadata.num_rows,
        "columns": metadata.num_columns,
        "row_groups": metadata.num_row_groups,
        "bytes": path.stat().st_size,
    }


def peak_mib() -> float:
    """The peak resident memory of this process so far, in MiB (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(tool: str, path: Path, measures: dict[str, Any]) -> None:
    """Print one JSON object: versions, the file, and what the side measured."""
    result = {
        "versions": versions(tool, "numpy", "pandas", "pyarrow"),
        "file": describe(path),
        **measures,
    }
    print(json.dumps(result, indent=2))


def file_argument() -> Path:
    """The one argument of each script: the Parquet file."""
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: python -m benchmarks.profile.{Path(sys.argv[0]).stem} FILE")
    return Path(sys.argv[1])
