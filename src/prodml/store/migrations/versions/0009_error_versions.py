"""Which model version a request answered with an error was routed to, so a canary's
error rate is compared with its primary's.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("request_errors", sa.Column("model_version", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("request_errors") as table:
        table.drop_column("model_version")
