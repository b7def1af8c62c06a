#!/usr/bin/env bash
# Monitor at scale: prodml's monitor over a prediction log of ROWS predictions (1,000,000 by
# default) of the breast-cancer example, a label each, windows of 10,000: the first pass, a
# pass with nothing new and one after one new window (in the same process and in new ones),
# against the floor (every row of the log read with sqlite3) and Evidently's data drift and
# classification presets on the same windows. Writes the section "## Monitor at scale" of
# docs/benchmarks.md (or of --output FILE).
#
#   bash benchmarks/monitor/run.sh [--rows N] [--output FILE]      (from the repo root)
#
# --rows 30000 is a quick check of the scripts (three windows; do not quote its numbers).
# prodml runs in its own environment ($PRODML_PYTHON, default .venv/bin/python); Evidently
# in benchmarks/.venvs/evidently, created on first use as for the drift benchmark (the same
# numpy, scipy and scikit-learn; pandas 2, which Evidently 0.7 needs). Nothing is downloaded
# but that install. The project, its log (about 550 MB at 1,000,000 rows) and the results
# go to a temporary folder, removed at the end. About 20 minutes at the default size on 2
# cores, most of it Evidently's.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=benchmarks/peer_venv.sh
source benchmarks/peer_venv.sh
rows=1000000
output=docs/benchmarks.md
while (($#)); do
    case $1 in
        --rows) rows=$2; shift 2 ;;
        --output) output=$2; shift 2 ;;
        *) echo "unknown argument: $1 (takes --rows N and --output FILE)" >&2; exit 2 ;;
    esac
done
evidently_venv

start=$SECONDS  # from here: the one-time install is not counted
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "prodml ($prodml_python): the log, the floor, the passes" >&2
"$prodml_python" -m benchmarks.monitor.bench_prodml "$work" --rows "$rows" > "$work/prodml.json"
echo "Evidently ($evidently_python): both presets on every window" >&2
"$evidently_python" -m benchmarks.monitor.bench_evidently "$work" --rows "$rows" \
    > "$work/evidently.json"

command="bash benchmarks/monitor/run.sh"
if [[ $rows != 1000000 ]]; then
    command+=" --rows $rows"
fi
"$prodml_python" -m benchmarks.monitor.report "$work/prodml.json" "$work/evidently.json" \
    --command "$command" --seconds $((SECONDS - start)) --output "$output"
echo "done in $((SECONDS - start)) s; see $output" >&2
