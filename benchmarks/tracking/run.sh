#!/usr/bin/env bash
# Tracking overhead: a plain scikit-learn fit vs prodml's tracked fit vs MLflow tracking,
# on the breast-cancer and loans examples, and the cold start of each CLI.
# Writes the section "## Tracked fitting" of docs/benchmarks.md.
#
#   bash benchmarks/tracking/run.sh          (from the repo root)
#
# prodml runs in its own environment ($PRODML_PYTHON, default .venv/bin/python); MLflow
# runs in benchmarks/.venvs/mlflow, created here on first use with the same versions of
# scikit-learn, numpy, scipy and pandas, so that both sides fit the same code (see
# peer_venv.sh). Every script runs as a module of the package `benchmarks`, from the repo
# root.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=benchmarks/peer_venv.sh
source benchmarks/peer_venv.sh
# mlflow>=3: without the floor, pip may settle on an old release to satisfy the pins
peer_venv mlflow "mlflow.sklearn, pyarrow" "mlflow>=3" pyarrow
mlflow_python=$venvs/mlflow/bin/python

start=$SECONDS  # from here: the one-time install is not counted
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# MLflow 3 sends usage telemetry by default; this machine has no internet, so turn it off
# rather than time its failed connections.
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true

echo "prodml ($prodml_python)" >&2
"$prodml_python" -m benchmarks.tracking.bench_prodml "$work" > "$work/prodml.json"
echo "MLflow ($mlflow_python)" >&2
"$mlflow_python" -m benchmarks.tracking.bench_mlflow "$work" > "$work/mlflow.json"

"$prodml_python" -m benchmarks.tracking.report "$work/prodml.json" "$work/mlflow.json" \
    --command "bash benchmarks/tracking/run.sh" --seconds $((SECONDS - start)) \
    --output docs/benchmarks.md
echo "done in $((SECONDS - start)) s; see docs/benchmarks.md" >&2
