"""Evaluation: the metrics a run records (baselines, slices and the audit come next)."""

#: The modules of this package; each names its public functions and classes.
__all__ = ["metrics"]
