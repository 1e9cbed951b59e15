"""the outbox finds the due rows of a topic by an index of their own

``ix_outbox_due_topic`` (topic, id) over undelivered rows: messages a person is waiting for (a
sign-in code, an SMS reply) are claimed before the rest, so a big mail merge queued earlier does
not hold them back.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "delivered_at IS NULL AND failed_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_due_topic",
        "outbox",
        ["topic", "id"],
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_due_topic", table_name="outbox")
