"""Archiving the prediction log: its predictions as Parquet files, a file per stream.

A stream (one endpoint, model version, role, input columns and classes) becomes one file,
``<endpoint>.v<version>.<role>.<stream id>.parquet``, with a column per input (the
model's, then the ``data.metadata`` fields its requests carried, which make a stream of
their own: :mod:`prodml.serve.metadata`) and per output (``label`` and ``p.<class>``, or
``value``; ``outputs`` as JSON text for answers of another shape), the request id, the
time (UTC, microseconds), the latency and who decided (``decided_by``: model, person or
fallback); what the stream shares is in the file's metadata. An input column whose
values no one type holds (a metadata field sent as text
in one row and a number in another) is written as text, numbers and true/false as JSON
writes them. Rows are read and written in chunks, so the memory used does not grow with
the log.

>>> import tempfile, pathlib
>>> from prodml.store.database import Database
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> export_parquet(Database(f"sqlite:///{folder / 'p.db'}"), folder / "archive")
[]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow has no type stubs
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import select

from prodml.store.database import Database
from prodml.store.log_format import Stream, decode_inputs, decode_outputs, microseconds
from prodml.store.monitoring import Monitoring
from prodml.store.tables import PredictionRow

CHUNK = 50_000


@dataclass(frozen=True)
class Exported:
    """One written file and the predictions in it."""

    path: Path
    stream: Stream
    rows: int


def export_parquet(
    database: Database, folder: Path, *, older_than: datetime | None = None
) -> list[Exported]:
    """Write the predictions (logged before ``older_than``) of every stream to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stream_id, stream in Monitoring(database).streams().items():
        name = f"{stream.endpoint}.v{stream.model_version}.{stream.role}.{stream_id}.parquet"
        path = folder / re.sub(r"[^\w.-]", "_", name)
        rows = _write(path, stream, _chunks(database, stream_id, older_than))
        if rows:
            written.append(Exported(path, stream, rows))
        else:
            path.unlink(missing_ok=True)
    return written


def _chunks(database: Database, stream_id: int, older_than: datetime | None) -> Iterator[list[Any]]:
    p = PredictionRow
    after = 0
    while True:
        query = (
            select(p.id, p.request_id, p.at_us, p.latency_us, p.inputs, p.outputs)
            .where(p.stream_id == stream_id, p.id > after)
            .order_by(p.id)
            .limit(CHUNK)
        )
        if older_than is not None:
            query = query.where(p.at_us < microseconds(older_than))
        with database.session() as session:
            rows = list(session.execute(query).all())
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _write(path: Path, stream: Stream, chunks: Iterator[list[Any]]) -> int:
    writer: pq.ParquetWriter | None = None
    count = 0
    try:
        for rows in chunks:
            table = _table(stream, rows)
            if writer is None:
                metadata = {
                    "prodml.stream": orjson.dumps(
                        {
                            "endpoint": stream.endpoint,
                            "model_name": stream.model_name,
                            "model_version": stream.model_version,
                            "run_id": stream.run_id,
                            "role": stream.role,
                            "classes": stream.classes,
                            "decided_by": stream.decider,
                        }
                    )
                }
                table = table.replace_schema_metadata(metadata)
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))
            count += len(rows)
    finally:
        if writer is not None:
            writer.close()
    return count


def _table(stream: Stream, rows: list[Any]) -> pa.Table:
    columns: dict[str, Any] = {
        "id": [r[0] for r in rows],
        "request_id": [r[1] for r in rows],
        "created_at": [r[2] for r in rows],
        "latency_seconds": [r[3] / 1e6 for r in rows],
        "decided_by": [stream.decider] * len(rows),
    }
    inputs = [decode_inputs(r[4], stream.columns) for r in rows]
    for column in stream.columns:
        columns[f"inputs.{column}"] = _input([i[column] for i in inputs])
    outputs = [decode_outputs(r[5], stream) for r in rows]
    if stream.class_keys is not None and all(set(o) == {"label", "probabilities"} for o in outputs):
        columns["label"] = [o["label"] for o in outputs]
        for key in stream.class_keys:
            columns[f"p.{key}"] = [o["probabilities"][key] for o in outputs]
    elif all(set(o) == {"value"} for o in outputs):
        columns["value"] = [o["value"] for o in outputs]
    else:
        columns["outputs"] = [orjson.dumps(o).decode() for o in outputs]
    table = pa.table(columns)
    at = table.column("created_at").cast(pa.timestamp("us", tz="UTC"))
    return table.set_column(table.schema.get_field_index("created_at"), "created_at", at)


def _input(values: list[Any]) -> Any:
    """An input column: its values, or, when no one type holds them all (a metadata field
    is never checked: text in one row, a number or true in another), as text.

    >>> _input(["north", 7, True, None]).to_pylist()
    ['north', '7', 'true', None]
    """
    try:
        return pa.array(values)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array(
            [v if v is None or type(v) is str else orjson.dumps(v).decode() for v in values]
        )
