#!/usr/bin/env bash
# Tracking overhead: a plain scikit-learn fit vs prodml's tracked fit vs MLflow tracking,
# on the breast-cancer and loans examples, and the cold start of each CLI.
# Writes the section "## Tracked fitting" of docs/benchmarks.md.
#
#   bash benchmarks/tracking/run.sh          (from the repo root)
#
# prodml runs in its own environment ($PRODML_PYTHON, default .venv/bin/python); MLflow
# runs in benchmarks/.venvs/mlflow, created here on first use with the same versions of
# scikit-learn, numpy, scipy and pandas, so that both sides fit the same code.
set -euo pipefail

cd "$(dirname "$0")/../.."
start=$SECONDS
here=benchmarks/tracking
prodml_python=${PRODML_PYTHON:-.venv/bin/python}
venv=benchmarks/.venvs/mlflow
mlflow_python=$venv/bin/python

if ! "$mlflow_python" -c 'import mlflow.sklearn, sklearn, pandas, pyarrow' 2>/dev/null; then
    echo "creating $venv (one time)" >&2
    base=$("$prodml_python" -c 'import sys; print(sys._base_executable)')
    pins=$("$prodml_python" -c 'from importlib.metadata import version
print(" ".join(f"{n}=={version(n)}" for n in ("scikit-learn", "numpy", "scipy", "pandas")))')
    rm -rf "$venv"
    "$base" -m venv "$venv"
    # mlflow>=3: without the floor, pip may settle on an old release to satisfy the pins
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --disable-pip-version-check "mlflow>=3" $pins pyarrow 2>&1 \
        | { grep -v "^WARNING: Location" || true; } >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# MLflow 3 sends usage telemetry by default; this machine has no internet, so turn it off
# rather than time its failed connections.
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true

echo "prodml ($prodml_python)" >&2
"$prodml_python" "$here/bench_prodml.py" "$work" > "$work/prodml.json"
echo "MLflow ($mlflow_python)" >&2
"$mlflow_python" "$here/bench_mlflow.py" "$work" > "$work/mlflow.json"

"$prodml_python" "$here/report.py" "$work/prodml.json" "$work/mlflow.json" \
    --command "bash $here/run.sh" --seconds $((SECONDS - start)) --output docs/benchmarks.md
echo "done in $((SECONDS - start)) s; see docs/benchmarks.md" >&2
