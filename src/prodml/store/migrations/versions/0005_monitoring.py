"""Monitoring: request errors, feedback, monitor windows, drift scores, alerts, change points;
the run whose model answered each prediction.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: An autoincrementing 64-bit key (SQLite's autoincrement needs INTEGER).
BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("predictions", sa.Column("run_id", sa.String(32), nullable=True))
    op.create_table(
        "request_errors",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("created_at", WHEN, nullable=False, index=True),
        sa.Column("endpoint", sa.String(200), nullable=False, index=True),
        sa.Column("protocol", sa.String(20), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("latency_seconds", sa.Float, nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), nullable=False, index=True),
        sa.Column("label", sa.JSON, nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
    )
    op.create_table(
        "monitor_windows",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(200), nullable=False, index=True),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("first_id", sa.BigInteger, nullable=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.UniqueConstraint("endpoint", "model_version", "first_id"),
    )
    op.create_table(
        "drift_scores",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column(
            "window_id", BIG_KEY, sa.ForeignKey("monitor_windows.id"), nullable=False, index=True
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("column", sa.String(200), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("p_value", sa.Float, nullable=True),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("threshold_on", sa.String(10), nullable=False),
        sa.Column("drifted", sa.Boolean, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(200), nullable=False, index=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("window_id", BIG_KEY, sa.ForeignKey("monitor_windows.id"), nullable=False),
        sa.Column("fired_at", WHEN, nullable=False),
        sa.Column("resolved_at", WHEN, nullable=True),
        sa.Column("deliveries", sa.JSON, nullable=False),
    )
    op.create_table(
        "change_points",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(200), nullable=False, index=True),
        sa.Column("detector", sa.String(40), nullable=False),
        sa.Column("started_id", sa.BigInteger, nullable=False),
        sa.Column("detected_id", sa.BigInteger, nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("detected_at", WHEN, nullable=False),
        sa.Column("found_at", WHEN, nullable=False),
        sa.UniqueConstraint("endpoint", "detector", "started_id"),
    )


def downgrade() -> None:
    tables = ("change_points", "alerts", "drift_scores", "monitor_windows", "feedback")
    for table in (*tables, "request_errors"):
        op.drop_table(table)
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("run_id")
