"""A review item the server queues keeps no copy of its inputs: they are in the prediction
log, committed in the same transaction (null inputs: read them there).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_items") as table:
        table.alter_column("inputs", existing_type=sa.JSON(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("review_items") as table:
        table.alter_column("inputs", existing_type=sa.JSON(), nullable=False)
