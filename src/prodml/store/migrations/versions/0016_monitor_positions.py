"""Where the monitor reads each endpoint's log from. Windows are cut per model now, so
those of a canary and its primary interleave and the newest window's last id no longer
says what is read: the monitor keeps the id up to which every prediction is in a stored
window. Windows stored before were cut in the log's order, so every prediction up to the
newest one's last id is in one: that is where an endpoint's monitor carries on.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_positions",
        sa.Column("endpoint", sa.String(200), primary_key=True),
        sa.Column("through", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO monitor_positions (endpoint, through) "
        "SELECT endpoint, max(last_id) FROM monitor_windows GROUP BY endpoint"
    )


def downgrade() -> None:
    op.drop_table("monitor_positions")
