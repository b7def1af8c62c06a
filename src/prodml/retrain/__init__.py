"""Retraining: a candidate fitted on the project's data plus the labelled prediction log,
audited beside the primary, registered, and deployed as a shadow (never as primary)."""

__all__ = ["training"]
