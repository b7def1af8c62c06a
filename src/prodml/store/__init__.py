"""The system of record: the database, its tables and migrations, runs, artifacts, evaluations,
the prediction log's format, bulk read and write, retention and export, the review queue, and
throwaway PostgreSQL databases for tests and benchmarks."""

#: The modules of this package; each names its public functions and classes.
__all__ = [
    "artifacts",
    "database",
    "datasets",
    "evaluations",
    "label_columns",
    "log_columns",
    "log_export",
    "log_format",
    "log_retention",
    "many_rows",
    "monitoring",
    "review",
    "runs",
    "scratch",
    "tables",
]
