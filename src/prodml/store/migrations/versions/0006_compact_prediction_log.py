"""The prediction log in its compact format: streams, binary values, integer times.

What every prediction of one endpoint, model version and role shares moves to
``log_streams``; each prediction keeps its request id, its time and latency in
microseconds, and its values in the format of :mod:`prodml.store.log_format`. Rows
logged before are converted (their outputs as JSON, which that format also reads).

Revision ID: 0006
Revises: 0005
"""

from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from prodml.store.log_format import Stream, encode_inputs, microseconds

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CHUNK = 10_000


def upgrade() -> None:
    op.create_table(
        "log_streams",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("endpoint", sa.String(200), nullable=False, index=True),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("classes", sa.JSON, nullable=True),
        sa.Column("format_version", sa.Integer, nullable=False),
    )
    for index in ("request_id", "created_at", "endpoint"):
        op.drop_index(f"ix_predictions_{index}", table_name="predictions")
    op.rename_table("predictions", "predictions_json")
    op.create_table(
        "predictions",
        # AUTOINCREMENT on SQLite: an id is never used twice, even after the newest rows are
        # pruned, so a monitor that read up to an id never misses the rows after it
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("stream_id", sa.Integer, sa.ForeignKey("log_streams.id"), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False, index=True),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("inputs", sa.LargeBinary, nullable=False),
        sa.Column("outputs", sa.LargeBinary, nullable=False),
        sa.Column("latency_us", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    _convert(op.get_bind())
    op.drop_table("predictions_json")


def _convert(conn: sa.Connection) -> None:
    old = sa.table(
        "predictions_json",
        *(
            sa.column(name)
            for name in (
                "id",
                "request_id",
                "created_at",
                "endpoint",
                "model_name",
                "model_version",
                "run_id",
                "role",
                "latency_seconds",
            )
        ),
        sa.column("inputs", sa.Text),
        sa.column("outputs", sa.Text),
    )
    streams = sa.table(
        "log_streams",
        *(sa.column(n) for n in ("id", "key", "endpoint", "model_name", "model_version")),
        *(sa.column(n) for n in ("run_id", "role", "format_version")),
        sa.column("columns", sa.JSON),
        sa.column("classes", sa.JSON),
    )
    new = sa.table(
        "predictions",
        *(sa.column(n) for n in ("id", "stream_id", "request_id", "at_us", "latency_us")),
        sa.column("inputs", sa.LargeBinary),
        sa.column("outputs", sa.LargeBinary),
    )
    known: dict[Stream, int] = {}
    after = 0
    while True:
        rows = conn.execute(
            sa.select(old).where(old.c.id > after).order_by(old.c.id).limit(_CHUNK)
        ).all()
        if not rows:
            return
        converted: list[dict[str, Any]] = []
        for row in rows:
            inputs = _json(row.inputs)
            stream = Stream(
                row.endpoint,
                row.model_name,
                row.model_version,
                row.run_id,
                row.role,
                tuple(inputs),
            )
            if stream not in known:
                known[stream] = conn.execute(
                    sa.insert(streams)
                    .values(
                        key=stream.key,
                        endpoint=stream.endpoint,
                        model_name=stream.model_name,
                        model_version=stream.model_version,
                        run_id=stream.run_id,
                        role=stream.role,
                        columns=list(stream.columns),
                        classes=None,
                        format_version=1,
                    )
                    .returning(streams.c.id)
                ).scalar_one()
            created = row.created_at
            if isinstance(created, str):  # SQLite hands back the text it stored (UTC)
                created = datetime.fromisoformat(created)
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            converted.append(
                {
                    "id": row.id,
                    "stream_id": known[stream],
                    "request_id": row.request_id,
                    "at_us": microseconds(created),
                    "inputs": encode_inputs(list(inputs.values())),
                    "outputs": b"j" + orjson.dumps(_json(row.outputs)),
                    "latency_us": round(row.latency_seconds * 1e6),
                }
            )
        conn.execute(sa.insert(new), converted)
        after = rows[-1].id


def _json(value: Any) -> Any:
    """A JSON column's value: PostgreSQL's driver decodes it, SQLite's hands back text."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def downgrade() -> None:
    raise NotImplementedError("the compact prediction log cannot be turned back into JSON rows")
