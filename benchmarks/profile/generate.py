"""Write the benchmark's Parquet file (see common.py), one row group at a time.

python -m benchmarks.profile.generate FILE
"""

from __future__ import annotations

import sys

from benchmarks.profile.common import describe, file_argument, peak_mib, write
from benchmarks.shared import timed

if __name__ == "__main__":
    path = file_argument()
    seconds, _ = timed(lambda: write(path))
    print(f"wrote {describe(path)} in {seconds:.1f} s, peak {peak_mib():.0f} MiB", file=sys.stderr)
