"""The system of record: the database, its tables and migrations, runs, artifacts, evaluations."""

#: The modules of this package; each names its public functions and classes.
__all__ = [
    "artifacts",
    "database",
    "datasets",
    "evaluations",
    "monitoring",
    "runs",
    "tables",
]
