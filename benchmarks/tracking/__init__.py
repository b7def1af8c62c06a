"""Tracking overhead: prodml against MLflow (``bash benchmarks/tracking/run.sh``)."""
