#!/usr/bin/env bash
# Reference profile: prodml's one-pass profile of a 10,000,000-row Parquet file against
# pandas reading it whole and describing it; wall time and peak memory of each, each in
# its own process. Writes the section "## Reference profile" of docs/benchmarks.md.
#
#   bash benchmarks/profile/run.sh          (from the repo root)
#
# Both sides run in prodml's environment ($PRODML_PYTHON, default .venv/bin/python): pandas
# and pyarrow are its dependencies. The file (about 0.6 GiB) is written to a new folder in
# $PRODML_BENCH_TMP (default: $TMPDIR, else /tmp), which must have 2 GiB free, and is
# deleted at the end. Every script runs as a module of the package `benchmarks`, from the
# repo root.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=benchmarks/peer_venv.sh
source benchmarks/peer_venv.sh

parent=${PRODML_BENCH_TMP:-${TMPDIR:-/tmp}}
free_kib=$(df -Pk "$parent" | awk 'NR == 2 {print $4}')
if ((free_kib < 2 * 1024 * 1024)); then
    echo "$parent has $((free_kib / 1024)) MiB free; the file needs 2 GiB:" \
        "set PRODML_BENCH_TMP to a folder with room" >&2
    exit 1
fi

start=$SECONDS
work=$(mktemp -d "$parent/prodml-profile.XXXXXX")
trap 'rm -rf "$work"' EXIT
data=$work/rows.parquet

echo "writing $data" >&2
"$prodml_python" -m benchmarks.profile.generate "$data"
echo "prodml ($prodml_python)" >&2
"$prodml_python" -m benchmarks.profile.bench_prodml "$data" > "$work/prodml.json"
echo "pandas ($prodml_python)" >&2
"$prodml_python" -m benchmarks.profile.bench_pandas "$data" > "$work/pandas.json"

"$prodml_python" -m benchmarks.profile.report "$work/prodml.json" "$work/pandas.json" \
    --command "bash benchmarks/profile/run.sh" --seconds $((SECONDS - start)) \
    --output docs/benchmarks.md
echo "done in $((SECONDS - start)) s; see docs/benchmarks.md" >&2
