"""The monitor's change detectors keep their state in the store, so that a new process
(``prodml monitor --once``) carries on where the last pass stopped instead of reading
every label again (16 s of a pass with nothing new at 1,000,000 labels).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_streams",
        sa.Column("endpoint", sa.String(200), primary_key=True),
        sa.Column("mark", sa.BigInteger, nullable=False),
        sa.Column("detectors", sa.JSON, nullable=False),
        sa.Column("ids", sa.LargeBinary, nullable=False),
        sa.Column("times", sa.LargeBinary, nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("monitor_streams")
