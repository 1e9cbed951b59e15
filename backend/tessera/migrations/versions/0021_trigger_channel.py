"""triggered campaigns choose how the customer hears of a coupon

``campaigns.trigger_channel``: ``email`` or ``sms`` (a message with the code, through the outbox);
null: the app, with a push where the customer consented to one, as before.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("trigger_channel", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("trigger_channel")
