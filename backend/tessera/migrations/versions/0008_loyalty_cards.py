"""member (loyalty) cards

- ``member_cards``: one row per customer whose card has been shown, holding only the digest of
  its member code (the code itself is derived from the customer id). Erasure deletes the row.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_cards",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code_digest", sa.LargeBinary(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_member_cards_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_member_cards")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_member_cards_code_digest")),
    )


def downgrade() -> None:
    op.drop_table("member_cards")
