"""Prediction log: bytes per prediction, rows logged a second, feedback ingestion and the
write-ahead log, before and after the compact log format (``bash benchmarks/log/run.sh``)."""
