"""Partitioned data sets: a folder of Parquet part files, scored and profiled a part per task.

The parts run where ``executor:`` says (:mod:`prodml.executor`), each read chunk by chunk,
so neither the data set nor a part need fit in memory; on a Dask cluster every worker
must see the folder (a shared file system). Scoring sends the model to each worker once
and writes one output part per input part into a hidden folder, renamed into place when
every part is done, so a failed job leaves no partial output. Profiling builds a profile
per part and merges them in order: the profile one process gives.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Unpack

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow has no type stubs
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from prodml.batch import OnChunk, Scored, _score
from prodml.config import ExecutorSettings, Unseen
from prodml.data.profile import Profile, ProfileBuilder, ProfileOptions, read_chunks
from prodml.data.schema import Schema
from prodml.errors import DataError
from prodml.executor import ONE_PROCESS, running


def parts(folder: Path) -> list[tuple[Path, int]]:
    """The folder's Parquet files (below it too), in name order, each with the number of
    rows before it."""
    found = sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith("."))
    if not found:
        raise DataError(
            f"folder '{folder}' has no .parquet part files; give a folder of Parquet files "
            "(e.g. written by pandas, Spark or Dask) or a single CSV or Parquet file"
        )
    first, offsets = 0, []
    for path in found:
        offsets.append((path, first))
        first += pq.ParquetFile(path).metadata.num_rows
    return offsets


def score_parts(
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
    """Score every part of folder ``source`` into folder ``output``: a Parquet file per part,
    named as the part (``part-00000.parquet``...), with the columns :func:`score_file` gives."""
    if output.name.lower().endswith(".csv"):
        raise DataError(
            f"output '{output}' is a CSV file, but '{source}' is a folder of parts, scored into "
            "a folder of Parquet files; give a folder name, e.g. scored/"
        )
    if not output.parent.is_dir():
        raise DataError(
            f"output '{output}' is in folder {output.parent}, which does not exist; "
            "create it or write elsewhere"
        )
    started = time.perf_counter()
    jobs = [(path, first, f"part-{i:05d}.parquet") for i, (path, first) in enumerate(parts(source))]
    partial = output.with_name(f".{output.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)  # a crashed job's leftovers
    partial.mkdir()
    rows = 0
    try:
        shared = (model, schema, keep, chunk_rows, unseen, partial)
        with running(executor) as run:
            for done in run(_score_part, jobs, shared):
                rows += done
                if on_chunk is not None:
                    on_chunk(rows)
        if rows == 0:
            raise DataError(f"'{source}' has no rows to score; give parts with at least one row")
        _commit(partial, output)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    digest = hashlib.sha256()
    for part in sorted(output.iterdir()):
        digest.update(part.read_bytes())
    return Scored(rows, output, digest.hexdigest(), time.perf_counter() - started)


def profile_parts(
    source: Path,
    columns: Sequence[str],
    *,
    chunk_rows: int = 1_000_000,
    executor: ExecutorSettings = ONE_PROCESS,
    **options: Unpack[ProfileOptions],
) -> Profile:
    """The profile of ``columns`` over every part of folder ``source``, a part per task:
    equal to :func:`~prodml.data.profile.profile_chunks` over all the rows in one process."""
    jobs = parts(source)
    builder: ProfileBuilder | None = None
    with running(executor) as run:
        for built in run(_profile_part, jobs, (list(columns), chunk_rows, options)):
            builder = built if builder is None else builder.merge(built)
    assert builder is not None  # parts() gives at least one part
    return builder.finish()


ScoreShared = tuple[Any, Schema, tuple[str, ...], int, Unseen, Path]


def _score_part(shared: ScoreShared, job: tuple[Path, int, str]) -> int:
    model, schema, keep, chunk_rows, unseen, folder = shared
    path, first, name = job
    writer: pq.ParquetWriter | None = None
    rows = 0
    try:
        for chunk in read_chunks(path, chunk_rows):
            if chunk.empty:
                continue
            table = pa.Table.from_pandas(
                _score(model, schema, chunk, keep, first + rows, unseen), preserve_index=False
            )
            writer = writer or pq.ParquetWriter(folder / name, table.schema)
            writer.write_table(table)
            rows += len(chunk)
    finally:
        if writer is not None:
            writer.close()
    return rows


def _profile_part(
    shared: tuple[list[str], int, ProfileOptions], job: tuple[Path, int]
) -> ProfileBuilder:
    columns, chunk_rows, options = shared
    path, first = job
    builder = ProfileBuilder(columns, first_row=first, **options)
    for chunk in read_chunks(path, chunk_rows, columns):
        builder.update(chunk)
    return builder


def _commit(partial: Path, output: Path) -> None:
    """Put the finished folder in ``output``'s place; an older output goes only after."""
    if not output.exists():
        os.replace(partial, output)
        return
    if not output.is_dir():
        raise DataError(
            f"output '{output}' is a file, and a folder of parts is scored into a folder; "
            "remove it or give another name"
        )
    old = output.with_name(f".{output.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(output, old)
    os.replace(partial, output)
    shutil.rmtree(old)
