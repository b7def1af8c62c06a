"""An alert keeps the window that resolved it, beside the one that fired it: the monitor
checks its rules again on windows whose realized performance feedback changed, and must
not fire an alert again on windows its history already covers.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as table:
        table.add_column(sa.Column("resolved_window_id", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as table:
        table.drop_column("resolved_window_id")
