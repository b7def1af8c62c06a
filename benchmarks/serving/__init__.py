"""Serving: single-row HTTP predictions, prodml against `mlflow models serve`
(``bash benchmarks/serving/run.sh``)."""
