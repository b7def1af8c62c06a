"""Sliced metrics: prodml against Fairlearn (``bash benchmarks/slices/run.sh``)."""
