"""Soak: one `prodml serve` worker under steady load for an hour, sampled every minute
(``bash benchmarks/soak/run.sh``)."""
