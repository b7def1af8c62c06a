"""Data fingerprints: a content hash, so the same data always gives the same fingerprint.

The hash covers column names, dtypes and every value, in row order; it does not depend on
the index or on where the data came from.

>>> import pandas as pd
>>> a = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
>>> fingerprint(a) == fingerprint(a.copy()) != fingerprint(a.iloc[::-1])
True
"""

from __future__ import annotations

import hashlib

import pandas as pd


def fingerprint(frame: pd.DataFrame) -> str:
    """The SHA-256 (hex) of a data frame's columns, dtypes and values."""
    digest = hashlib.sha256()
    for name in frame.columns:
        column = frame[name]
        digest.update(f"{name}\0{column.dtype}\0".encode())
        hashed = pd.util.hash_pandas_object(column, index=False, categorize=False)
        digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()
