#!/usr/bin/env bash
# Prediction log, before and after its compact format: `prodml serve` (one worker, the
# breast-cancer example) logging predictions, measured on the commit before the new format
# ("before", $BEFORE_COMMIT) and on the working tree ("after"; once more with
# `log: {durability: power}`, and once, bytes per prediction alone, with the store a new
# database on the PostgreSQL server $PRODML_BENCH_POSTGRES, default this machine's, dropped
# at the end). Writes the section "## Prediction log" of docs/benchmarks.md (or of
# --output FILE).
#
#   bash benchmarks/log/run.sh [--quick] [--output FILE]
#
# From the repo root. --quick: small sizes (2,000 predictions, 5 s wrk runs, 50,000
# labels), to check the scripts; do not quote its numbers. Both sides run in one
# environment ($PRODML_PYTHON, default .venv/bin/python, prodml installed editable):
# "before" with PYTHONPATH on the src/ of a worktree of $BEFORE_COMMIT, so `import prodml`
# and the `prodml` command take the old code. The worktree is /tmp/prodml-before when it
# exists (at that commit), otherwise one made here (`git worktree add`) and removed at the
# end. wrk comes from the distribution (apt-get, as root, when it is missing). The servers
# listen on free loopback ports and are stopped (their whole process group) after each
# measure. Run it on an otherwise quiet machine: the server and wrk share its cores.
set -euo pipefail

cd "$(dirname "$0")/../.."
python=${PRODML_PYTHON:-.venv/bin/python}
commit=${BEFORE_COMMIT:-2c364e3}
postgres=${PRODML_BENCH_POSTGRES:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
output=docs/benchmarks.md
quick=()
while (($#)); do
    case $1 in
        --output) output=$2; shift 2 ;;
        --quick) quick=(--quick); shift ;;
        *) echo "unknown argument: $1 (takes --quick and --output FILE)" >&2; exit 2 ;;
    esac
done
if ! command -v wrk >/dev/null; then
    echo "installing wrk (one time)" >&2
    apt-get install -y wrk >&2
fi

start=$SECONDS
work=$(mktemp -d)
before=/tmp/prodml-before
made=""
cleanup() {
    if [[ -n $made ]]; then
        git worktree remove --force "$before" >&2 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
if [[ -d $before ]]; then
    at=$(git -C "$before" rev-parse HEAD)
    if [[ $at != $(git rev-parse "$commit^{commit}") ]]; then
        echo "$before is at $at, not $commit: remove it (git worktree remove $before)" >&2
        exit 1
    fi
else
    before=$work/before-tree
    made=1
    git worktree add --detach "$before" "$commit" >&2
fi

echo "before: $commit ($before)" >&2
PYTHONPATH="$before/src" "$python" -m benchmarks.log.bench_log "$work/before" "${quick[@]}" \
    > "$work/before.json"
echo "after: the working tree" >&2
"$python" -m benchmarks.log.bench_log "$work/after" "${quick[@]}" > "$work/after.json"
echo "after, durability power" >&2
"$python" -m benchmarks.log.bench_log "$work/power" --durability power --load-only \
    "${quick[@]}" > "$work/power.json"

echo "after, PostgreSQL ($postgres)" >&2
"$python" -m benchmarks.log.bench_log "$work/postgres" --postgres "$postgres" "${quick[@]}" \
    > "$work/postgres.json"

"$python" -m benchmarks.log.report "$work/before.json" "$work/after.json" "$work/power.json" \
    "$work/postgres.json" \
    --commit "$commit" --command "bash benchmarks/log/run.sh${quick[*]:+ ${quick[*]}}" \
    --seconds $((SECONDS - start)) --output "$output"
echo "done in $((SECONDS - start)) s; see $output" >&2
