"""Drift: prodml against Evidently's data drift report (``bash benchmarks/drift/run.sh``)."""
