"""Reference profile: prodml's one-pass profile of 10,000,000 rows against pandas reading them
whole (``bash benchmarks/profile/run.sh``)."""
