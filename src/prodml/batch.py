"""Batch scoring: a registered model over a CSV or Parquet file, chunk by chunk.

Memory stays bounded by one chunk whatever the file's size: each chunk is checked against
the model's input schema, predicted, and appended to the output, which is written under a
temporary name and moved into place at the end, so a failed job leaves no half file. The
job is recorded as a run of kind ``batch`` (input, rows, output and its SHA-256, speed).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow has no type stubs
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from prodml.config import ExecutorSettings, Unseen
from prodml.data.profile import read_chunks
from prodml.data.schema import Schema, validate
from prodml.errors import DataError, listing
from prodml.executor import ONE_PROCESS

#: Called after each chunk with the rows done so far.
OnChunk = Callable[[int], None]
OUTPUT_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class Scored:
    """What a batch job did."""

    rows: int
    output: Path
    sha256: str
    seconds: float


def score_file(
    model: Any,
    schema: Schema,
    source: Path,
    output: Path,
    *,
    keep: tuple[str, ...] = (),
    chunk_rows: int = 100_000,
    on_chunk: OnChunk | None = None,
    unseen: Unseen = "reject",
    executor: ExecutorSettings = ONE_PROCESS,
) -> Scored:
    """Predict every row of ``source`` into ``output`` (CSV or Parquet), with the columns of
    ``keep`` (such as the id) first, then ``prediction`` and one ``probability[C]`` per class;
    rows the server would refuse (``unseen``: its policy for unseen categories) stop it.

    A folder of Parquet parts is scored a part per task where ``executor`` says, into a
    folder of parts: see :func:`prodml.partitioned.score_parts`."""
    if source.is_dir():
        from prodml.partitioned import score_parts  # it builds on this module's _score

        return score_parts(
            model,
            schema,
            source,
            output,
            keep=keep,
            chunk_rows=chunk_rows,
            on_chunk=on_chunk,
            unseen=unseen,
            executor=executor,
        )
    if not output.name.lower().endswith(OUTPUT_SUFFIXES):
        raise DataError(
            f"output '{output}' must end in {listing(OUTPUT_SUFFIXES)}; the format follows it"
        )
    if not output.parent.is_dir():
        raise DataError(
            f"output '{output}' is in folder {output.parent}, which does not exist; "
            "create it or write elsewhere"
        )
    started = time.perf_counter()
    partial = output.with_name(f".{output.name}.partial")
    writer: pq.ParquetWriter | None = None
    rows = 0
    try:
        for chunk in read_chunks(source, chunk_rows):
            if chunk.empty:
                continue  # a CSV of only a header still yields one, empty, chunk
            scored = _score(model, schema, chunk, keep, rows, unseen)
            if output.name.lower().endswith(".parquet"):
                table = pa.Table.from_pandas(scored, preserve_index=False)
                writer = writer or pq.ParquetWriter(partial, table.schema)
                writer.write_table(table)
            else:
                scored.to_csv(partial, mode="a" if rows else "w", header=not rows, index=False)
            rows += len(scored)
            if on_chunk is not None:
                on_chunk(rows)
        if writer is not None:
            writer.close()
            writer = None
        if rows == 0:
            raise DataError(f"'{source}' has no rows to score; give a file with at least one row")
        os.replace(partial, output)
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    return Scored(rows, output, digest, time.perf_counter() - started)


def _score(
    model: Any,
    schema: Schema,
    chunk: pd.DataFrame,
    keep: tuple[str, ...],
    first_row: int,
    unseen: Unseen,
) -> pd.DataFrame:
    features = [c.name for c in schema.columns]
    # columns beyond the features (id, target, metadata) are carried, not checked
    inputs = chunk.loc[:, [c for c in chunk.columns if c in features]]
    found = validate(inputs, schema, missing_jump=1.0, unseen=unseen)
    errors = [a for a in found if a.severity == "error"]
    if errors:
        where = f"rows {first_row}..{first_row + len(chunk) - 1}"
        raise DataError(f"{where} of the input do not fit the model: {errors[0].message}")
    X = inputs.loc[:, features]
    for column in schema.columns:
        if column.kind in ("category", "text"):
            X[column.name] = X[column.name].astype("category")
    result = chunk.loc[:, [c for c in keep if c in chunk.columns]].reset_index(drop=True)
    result["prediction"] = model.predict(X)
    if hasattr(model, "predict_proba"):
        probabilities = np.asarray(model.predict_proba(X))
        for i, label in enumerate(model.classes_):
            result[f"probability[{label}]"] = probabilities[:, i]
    return result
