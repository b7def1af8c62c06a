"""Evaluation: metrics, baselines, slices and the priority table, the audit, the report."""

#: The modules of this package; each names its public functions and classes.
__all__ = [
    "annotations",
    "audit",
    "baselines",
    "deferral",
    "evaluation",
    "html",
    "metrics",
    "slices",
]
