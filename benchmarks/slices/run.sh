#!/usr/bin/env bash
# Sliced metrics: prodml's slice engine vs Fairlearn's MetricFrame on 1,000,000 rows and
# three metadata columns (2, 5 and 12 groups), and a check that both give the same values.
# Writes the section "## Sliced metrics" of docs/benchmarks.md.
#
#   bash benchmarks/slices/run.sh          (from the repo root)
#
# prodml runs in its own environment ($PRODML_PYTHON, default .venv/bin/python); Fairlearn
# runs in benchmarks/.venvs/fairlearn, created here on first use with the same versions of
# numpy, pandas, scikit-learn and scipy (and of Fairlearn, when prodml's env has it), so
# that both sides see the same rows and call the same scikit-learn code (see peer_venv.sh).
# Every script runs as a module of the package `benchmarks`, from the repo root.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=benchmarks/peer_venv.sh
source benchmarks/peer_venv.sh
peer_venv fairlearn fairlearn.metrics
fairlearn_python=$venvs/fairlearn/bin/python

start=$SECONDS  # from here: the one-time install is not counted
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "prodml ($prodml_python)" >&2
"$prodml_python" -m benchmarks.slices.bench_prodml > "$work/prodml.json"
echo "Fairlearn ($fairlearn_python), about two minutes" >&2
"$fairlearn_python" -m benchmarks.slices.bench_fairlearn > "$work/fairlearn.json"

"$prodml_python" -m benchmarks.slices.report "$work/prodml.json" "$work/fairlearn.json" \
    --command "bash benchmarks/slices/run.sh" --seconds $((SECONDS - start)) \
    --output docs/benchmarks.md
echo "done in $((SECONDS - start)) s; see docs/benchmarks.md" >&2
