"""Tracked work: fits, searches and sanity checks recorded as runs, and their comparison."""

#: The modules of this package; each names its public functions and classes.
__all__ = ["compare", "environment", "fit", "resources", "sanity", "search", "workspace"]
