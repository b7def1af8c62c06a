"""Tracked work: fits, searches and sanity checks recorded as runs, their comparison and
evaluation."""

#: The modules of this package; each names its public functions and classes.
__all__ = [
    "compare",
    "environment",
    "evaluation",
    "fit",
    "resources",
    "sanity",
    "search",
    "workspace",
]
