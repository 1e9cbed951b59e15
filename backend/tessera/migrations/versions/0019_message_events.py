"""message events, delivery receipts, contacts in the rollups

- ``message_receipts``: each gateway delivery receipt under (message id, status), so a repeated
  receipt records nothing.
- ``ix_events_sent_message``: finds the ``message_sent`` event a receipt is about by its
  message id (a partial expression index over those events only).
- The analytics now count contest entries and inbound SMS (``contest_entry``, ``sms_received``)
  per channel, medium and store: the ones the rollups already moved past are added to
  ``analytics_totals`` here, exactly as the rollup job folds them, so all-time figures agree with
  windowed ones. (Message events are new: there are none to add.)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEWLY_COUNTED = "('contest_entry', 'sms_received')"
ALL_CAMPAIGNS = 0
# (scope column or ALL_CAMPAIGNS, dimension, key column): the rollup job's targets.
TARGETS = (
    ("campaign_id", "channel", "channel"),
    ("campaign_id", "medium", "medium"),
    ("campaign_id", "store", "store_id"),
    (ALL_CAMPAIGNS, "channel", "channel"),
    (ALL_CAMPAIGNS, "medium", "medium"),
    (ALL_CAMPAIGNS, "store", "store_id"),
    (ALL_CAMPAIGNS, "campaign", "campaign_id"),
)
ADD = """
INSERT INTO analytics_totals (scope, dimension, key, type, events, quantity, firsts, amount, discount)
SELECT {scope}, '{dimension}', CAST({key} AS VARCHAR(40)), type, count(*), sum(quantity), 0,
       coalesce(sum(amount), 0), 0
FROM events
WHERE type IN {types} AND {key} IS NOT NULL AND {scope} IS NOT NULL
  AND id <= (SELECT rolled_up_to FROM analytics_state WHERE id = 1)
GROUP BY {scope_group}{key}, type
ON CONFLICT (scope, dimension, key, type) DO UPDATE SET
    events = analytics_totals.events + excluded.events,
    quantity = analytics_totals.quantity + excluded.quantity,
    amount = analytics_totals.amount + excluded.amount
"""
REMOVE = """
DELETE FROM analytics_totals WHERE type IN {types}
"""


def upgrade() -> None:
    op.create_table(
        "message_receipts",
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", "status", name=op.f("pk_message_receipts")),
    )
    op.create_index(
        "ix_events_sent_message",
        "events",
        [sa.text("(data ->> 'message_id')")],
        unique=False,
        sqlite_where=sa.text("type = 'message_sent'"),
        postgresql_where=sa.text("type = 'message_sent'"),
    )
    for scope, dimension, key in TARGETS:
        scope_group = f"{scope}, " if isinstance(scope, str) else ""
        op.execute(
            ADD.format(
                scope=scope, dimension=dimension, key=key, types=NEWLY_COUNTED, scope_group=scope_group
            )
        )


def downgrade() -> None:
    op.execute(REMOVE.format(types=NEWLY_COUNTED))
    op.drop_index("ix_events_sent_message", table_name="events")
    op.drop_table("message_receipts")
