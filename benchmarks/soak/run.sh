#!/usr/bin/env bash
# Soak: one `prodml serve` worker (breast-cancer example, logging on, SQLite store) under an
# open loop of 500 single-row requests a second, sampled every minute: the server's memory,
# the store's files, the rows logged, the latency. Writes the section "## Soak" of
# docs/benchmarks.md (or of --output FILE).
#
#   bash benchmarks/soak/run.sh [--minutes 60] [--rate 500] [--output FILE]
#
# From the repo root; it takes --minutes plus a minute or so (init, fit, warm-up). prodml
# runs in $PRODML_PYTHON (default .venv/bin/python). The server listens on a free loopback
# port and is stopped (its whole process group) at the end. Run it on an otherwise quiet
# machine: the server and the load generator share its cores.
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
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m benchmarks.soak.bench_soak "$work" "${arguments[@]}" > "$work/soak.json"
"$python" -m benchmarks.soak.report "$work/soak.json" \
    --command "bash benchmarks/soak/run.sh${arguments[*]:+ ${arguments[*]}}" \
    --seconds $((SECONDS - start)) --output "$output"
echo "done in $((SECONDS - start)) s; see $output" >&2
