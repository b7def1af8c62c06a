"""Deployment state: a candidate beside the primary (shadow, canary or blue-green), its
traffic share and ramp, the previous primary for rollback; who changed it and why.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("deployments") as table:
        table.add_column(sa.Column("candidate_version", sa.Integer, nullable=True))
        table.add_column(sa.Column("mode", sa.String(20), nullable=True))
        table.add_column(sa.Column("share", sa.Float, nullable=False, server_default="0"))
        table.add_column(sa.Column("plan", sa.JSON, nullable=True))
        table.add_column(sa.Column("ramp_step", sa.Integer, nullable=True))
        table.add_column(sa.Column("step_started_at", WHEN, nullable=True))
        table.add_column(sa.Column("previous_version", sa.Integer, nullable=True))
    with op.batch_alter_table("deployment_events") as table:
        table.add_column(sa.Column("revision", sa.Integer, nullable=True))
        table.add_column(sa.Column("actor", sa.String(200), nullable=True))
        table.add_column(sa.Column("reason", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployment_events") as table:
        for column in ("reason", "actor", "revision"):
            table.drop_column(column)
    with op.batch_alter_table("deployments") as table:
        for column in (
            "previous_version",
            "step_started_at",
            "ramp_step",
            "plan",
            "share",
            "mode",
            "candidate_version",
        ):
            table.drop_column(column)
