"""Deployment: the audit gate, deployment changes (shadow, canary, blue-green, promote,
rollback), the statistics that decide a canary, and the keys that guard admin routes."""

#: The modules of this package; each names its public functions and classes.
__all__ = [
    "canary",
    "changes",
    "compare",
    "gate",
    "html",
    "intervals",
    "keys",
    "paired",
    "plan",
    "sequential",
    "slices",
    "trial",
]
