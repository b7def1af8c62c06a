"""Reference profile, prodml side: ``read_chunks`` and a ``ProfileBuilder`` over the file.

In one process: import, then read the file in chunks of CHUNK_ROWS rows and profile every
column (default options: a sample of 10,000 rows, up to 1,000 values per categorical
column), then ``to_dict()`` and ``json.dumps`` of the profile. Prints one JSON object:
wall times, the process's peak memory after the imports and at the end, and the size of
the profile as JSON.

    python -m benchmarks.profile.bench_prodml FILE
"""

from __future__ import annotations

import json

from benchmarks.profile.common import file_argument, peak_mib, report
from benchmarks.shared import timed
from prodml.data.profile import profile_chunks, read_chunks

CHUNK_ROWS = 1_000_000

if __name__ == "__main__":
    path = file_argument()
    imported = peak_mib()
    # profile_chunks: one ProfileBuilder, updated with each chunk, then finish()
    seconds, result = timed(lambda: profile_chunks(read_chunks(path, CHUNK_ROWS)))
    saving, text = timed(lambda: json.dumps(result.to_dict()))
    capped = [name for name, c in result.columns.items() if getattr(c, "capped", False)]
    report(
        "prodml",
        path,
        {
            "chunk_rows": CHUNK_ROWS,
            "seconds": {"profile": seconds, "to_json": saving},
            "peak_mib": {"after_imports": imported, "end": peak_mib()},
            "profile": {"rows": result.rows, "json_bytes": len(text), "capped": capped},
        },
    )
