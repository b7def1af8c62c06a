"""Model versions with their lineage, deployments and their events, the prediction log.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: An autoincrementing 64-bit key (SQLite's autoincrement needs INTEGER).
BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_fingerprint", sa.String(64), nullable=True),
        sa.Column("input_schema", sa.JSON, nullable=True),
        sa.Column("evaluation_id", sa.String(32), nullable=True),
        sa.Column("audit_passed", sa.Boolean, nullable=True),
        sa.UniqueConstraint("name", "version"),
    )
    op.create_table(
        "deployments",
        sa.Column("endpoint", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("primary_version", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "deployment_events",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(200), nullable=False, index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("detail", sa.JSON, nullable=True),
    )
    op.create_table(
        "predictions",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("endpoint", sa.String(200), nullable=False, index=True),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("outputs", sa.JSON, nullable=False),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("latency_seconds", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("predictions", "deployment_events", "deployments", "model_versions"):
        op.drop_table(table)
