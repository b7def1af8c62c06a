#!/usr/bin/env bash
# Serving: single-row HTTP predictions from `prodml serve` (logging on) and from
# `mlflow models serve`, 1 and 2 workers each, on the breast-cancer example with two models,
# under wrk (throughput) and a Python open-loop generator (latency at a fixed rate), and
# the same model called in-process. Writes the section "## Serving" of docs/benchmarks.md;
# then shadow.sh measures what a shadow candidate costs prodml's primary (the section
# "## Serving with a shadow"; it runs alone too, without the MLflow side).
#
#   bash benchmarks/serving/run.sh          (from the repo root; about 8 + 6 minutes)
#
# prodml runs in its own environment ($PRODML_PYTHON, default .venv/bin/python); MLflow
# runs in benchmarks/.venvs/mlflow, created here on first use with the same versions of
# scikit-learn, numpy, scipy and pandas (see peer_venv.sh). wrk comes from the distribution
# (apt-get, as root, when it is missing). The servers listen on free loopback ports and
# are stopped (their whole process group) when each measurement ends. Run it on an
# otherwise quiet machine: the servers and the load generators share its cores.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=benchmarks/peer_venv.sh
source benchmarks/peer_venv.sh
# mlflow>=3: without the floor, pip may settle on an old release to satisfy the pins
peer_venv mlflow "mlflow.sklearn, pyarrow" "mlflow>=3" pyarrow
mlflow_python=$venvs/mlflow/bin/python
if ! command -v wrk >/dev/null; then
    echo "installing wrk (one time)" >&2
    apt-get install -y wrk >&2
fi

start=$SECONDS  # from here: the one-time installs are not counted
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# MLflow 3 sends usage telemetry by default; this machine has no internet, so turn it off.
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true

echo "prodml ($prodml_python)" >&2
"$prodml_python" -m benchmarks.serving.bench_prodml "$work" > "$work/prodml.json"
echo "MLflow ($mlflow_python)" >&2
"$mlflow_python" -m benchmarks.serving.bench_mlflow "$work" > "$work/mlflow.json"

"$prodml_python" -m benchmarks.serving.report "$work/prodml.json" "$work/mlflow.json" \
    --command "bash benchmarks/serving/run.sh" --seconds $((SECONDS - start)) \
    --output docs/benchmarks.md
bash benchmarks/serving/shadow.sh
echo "done in $((SECONDS - start)) s; see docs/benchmarks.md" >&2
