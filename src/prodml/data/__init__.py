"""The data side of a project: sources, roles, splits, fingerprints, schemas, profiles,
labelers' agreement.

This package's own namespace stays free of numpy and pandas so the CLI starts fast.
"""

#: The modules of this package, and the split names every report shares.
__all__ = [
    "SPLIT_NAMES",
    "agreement",
    "dataset",
    "documents",
    "fingerprint",
    "labels",
    "loans",
    "profile",
    "schema",
    "sources",
    "split",
]

#: The splits a project's rows are cut into, in the order reports show them.
SPLIT_NAMES: tuple[str, str, str] = ("train", "dev", "test")
