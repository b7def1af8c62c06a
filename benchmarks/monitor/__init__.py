"""Monitor at scale: prodml's monitor over a million logged predictions against the floor
and Evidently (``bash benchmarks/monitor/run.sh``)."""
