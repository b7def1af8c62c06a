"""Monitoring: the prediction log read in windows, drift against the reference profile,
realized performance from feedback, streaming change detectors and alerts."""

__all__ = [
    "charts",
    "detectors",
    "drift",
    "feedback",
    "files",
    "html",
    "monitor",
    "reference",
    "report",
    "scoring",
    "statistics",
    "webhooks",
    "window",
    "workers",
]
