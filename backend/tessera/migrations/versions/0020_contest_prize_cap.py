"""instant wins: a cap on prizes per customer

``contests.prizes_per_customer_limit``: how many prizes one customer (and so one phone number)
may win in an instant win; a winning code past it loses. Null: no cap.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contests") as batch:
        batch.add_column(sa.Column("prizes_per_customer_limit", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contests") as batch:
        batch.drop_column("prizes_per_customer_limit")
