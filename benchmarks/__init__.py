"""The benchmarks against prodml's peers; each folder's run.sh runs one (see docs/benchmarks.md)."""
