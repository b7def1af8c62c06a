"""Who decided a logged prediction: a stream's decider (null: the model, as every row
before this revision was).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("log_streams", sa.Column("decided_by", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_streams") as table:
        table.drop_column("decided_by")
