"""Reference profile, the naive way: ``pd.read_parquet`` of the whole file, then
``describe(include="all")`` (numeric statistics, and count, unique, top and freq of the
other columns).

    python -m benchmarks.profile.bench_pandas FILE
"""

from __future__ import annotations

import pandas as pd

from benchmarks.profile.common import file_argument, peak_mib, report
from benchmarks.shared import timed

if __name__ == "__main__":
    path = file_argument()
    imported = peak_mib()
    reading, frame = timed(lambda: pd.read_parquet(path))
    describing, _ = timed(lambda: frame.describe(include="all"))
    report(
        "pandas",
        path,
        {
            "seconds": {"read": reading, "describe": describing},
            "peak_mib": {"after_imports": imported, "end": peak_mib()},
            "frame_mib": frame.memory_usage(deep=True).sum() / 2**20,
        },
    )
