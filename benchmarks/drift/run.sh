#!/usr/bin/env bash
# Drift: prodml's drift report vs Evidently's data drift report on 1,000,000 reference rows
# and 1,000,000 current rows of 20 columns, 5 of them shifted; wall time, peak memory, and
# a check that both flag the same columns. Writes the section "## Drift" of
# docs/benchmarks.md.
#
#   bash benchmarks/drift/run.sh          (from the repo root)
#
# prodml runs in its own environment ($PRODML_PYTHON, default .venv/bin/python); Evidently
# runs in benchmarks/.venvs/evidently, created here on first use with the same versions of
# numpy, scipy and scikit-learn (see peer_venv.sh), but pandas 2: Evidently 0.7 does not
# import under pandas 3 (it imports pandas.core.dtypes.common.infer_dtype_from_object, which
# pandas 3 removed). Both sides build the same frames from the same seeded numpy generators.
# Every script runs as a module of the package `benchmarks`, from the repo root.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=benchmarks/peer_venv.sh
source benchmarks/peer_venv.sh
evidently_venv

start=$SECONDS  # from here: the one-time install is not counted
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "prodml ($prodml_python)" >&2
"$prodml_python" -m benchmarks.drift.bench_prodml > "$work/prodml.json"
echo "Evidently ($evidently_python), about two minutes" >&2
"$evidently_python" -m benchmarks.drift.bench_evidently > "$work/evidently.json"

"$prodml_python" -m benchmarks.drift.report "$work/prodml.json" "$work/evidently.json" \
    --command "bash benchmarks/drift/run.sh" --seconds $((SECONDS - start)) \
    --output docs/benchmarks.md
echo "done in $((SECONDS - start)) s; see docs/benchmarks.md" >&2
