"""A review item the server queues keeps no copy of its inputs: they are in the prediction
log, committed in the same transaction (null inputs: read them there). One partial index
of the open items by priority replaces those on endpoint, priority and done_at: the
server adds an item for every deferred request, and each index is written at that rate.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


OPEN = sa.text("done_at IS NULL")
REPLACED = ("endpoint", "priority", "done_at")


def upgrade() -> None:
    with op.batch_alter_table("review_items") as table:
        table.alter_column("inputs", existing_type=sa.JSON(), nullable=True)
        for column in REPLACED:
            table.drop_index(f"ix_review_items_{column}")
    op.create_index(
        "ix_review_items_open",
        "review_items",
        ["priority", "id"],
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_review_items_open", "review_items")
    with op.batch_alter_table("review_items") as table:
        table.alter_column("inputs", existing_type=sa.JSON(), nullable=False)
        for column in REPLACED:
            table.create_index(f"ix_review_items_{column}", [column])
