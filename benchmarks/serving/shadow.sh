#!/usr/bin/env bash
# Serving with a shadow: the primary's latency at 1,000 single-row requests a second
# offered, without and with a shadow candidate, in alternating phases on one `prodml serve`
# (1 and 2 workers), and the shadow's rows and drops. Writes the section "## Serving with a
# shadow" of docs/benchmarks.md (or of --output FILE). prodml only: no peer to install.
#
#   bash benchmarks/serving/shadow.sh [--seconds 20] [--pairs 3] [--rate 1000] [--output FILE]
#
# From the repo root; with the defaults it takes about 6 minutes (a check of the mechanics:
# --seconds 3 --pairs 1). run.sh runs it after the MLflow comparison. prodml runs in
# $PRODML_PYTHON (default .venv/bin/python). The server listens on a free loopback port and
# is stopped (its whole process group) when each measurement ends. Run it on an otherwise
# quiet machine: the server and the load generator share its cores.
set -euo pipefail

cd "$(dirname "$0")/../.."
python=${PRODML_PYTHON:-.venv/bin/python}
output=docs/benchmarks.md
arguments=()
while (($#)); do
    case $1 in
        --output) output=$2; shift 2 ;;
        *) arguments+=("$1"); shift ;;
    esac
done

start=$SECONDS
commit=$(git rev-parse --short HEAD)
# the server runs prodml from src/ as it is in the working tree, not as committed
if [[ -n $(git status --porcelain -- src) ]]; then
    commit="$commit, with uncommitted changes to src/"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m benchmarks.serving.bench_shadow "$work" "${arguments[@]}" > "$work/shadow.json"
"$python" -m benchmarks.serving.shadow_report "$work/shadow.json" \
    --command "bash benchmarks/serving/shadow.sh${arguments[*]:+ ${arguments[*]}}" \
    --commit "$commit" --seconds $((SECONDS - start)) --output "$output"
echo "done in $((SECONDS - start)) s; see $output" >&2
