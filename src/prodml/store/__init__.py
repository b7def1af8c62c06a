"""The system of record: the database, its tables and migrations, runs and artifacts."""

#: The modules of this package; each names its public functions and classes.
__all__ = ["artifacts", "database", "runs", "tables"]
