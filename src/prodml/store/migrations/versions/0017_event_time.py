"""The time of the event a prediction is about, when its request carried one (the
project's ``data.time`` field, a V2 or MLflow ``time`` parameter, or ``predict --log``'s
``data.time`` column): the monitor's windows follow it. ``at_us`` stays the time the
prediction arrived. Null for the requests that carry none, as every row before this
revision: a null costs SQLite about a byte a row.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("predictions", sa.Column("event_us", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as table:
        table.drop_column("event_us")
