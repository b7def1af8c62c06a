"""The review queue: predictions a person decides, each leased to one reviewer at a
time, and the reviewers' answers.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", KEY, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), nullable=False, unique=True),
        sa.Column("endpoint", sa.String(200), nullable=False, index=True),
        sa.Column("model_version", sa.Integer, nullable=True),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("suggestion", sa.JSON, nullable=True),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("priority", sa.Float, nullable=False, index=True),
        sa.Column("answers_needed", sa.Integer, nullable=False),
        sa.Column("answers_given", sa.Integer, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("leased_by", sa.String(200), nullable=True),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.Column("done_at", WHEN, nullable=True, index=True),
    )
    op.create_table(
        "review_answers",
        sa.Column("id", KEY, primary_key=True, autoincrement=True),
        sa.Column("item_id", KEY, sa.ForeignKey("review_items.id"), nullable=False, index=True),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("label", sa.JSON, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("answered_at", WHEN, nullable=False),
        sa.UniqueConstraint("item_id", "reviewer"),
    )


def downgrade() -> None:
    op.drop_table("review_answers")
    op.drop_table("review_items")
