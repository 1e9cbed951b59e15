"""triggered campaigns

- ``campaigns.trigger_*``: a campaign issued by a trigger (registration, redemption of another
  campaign, inactivity, birthday, a coupon about to expire) instead of by publishing.
- ``customers.timezone``, ``birth_month_day`` and ``last_active_at`` (with indexes) for the
  birthday and win-back triggers, filled from the existing rows.
- ``event_cursors``: the trigger worker's position in the event log, starting after the events
  already written (none of them can trigger a campaign that did not exist).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trigger_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("trigger_campaign_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("trigger_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("trigger_hours", sa.Integer(), nullable=True))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("birth_month_day", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        month_day = "CAST(EXTRACT(MONTH FROM birthday) * 100 + EXTRACT(DAY FROM birthday) AS INTEGER)"
    else:
        month_day = "CAST(strftime('%m%d', birthday) AS INTEGER)"
    op.execute(f"UPDATE customers SET birth_month_day = {month_day} WHERE birthday IS NOT NULL")  # noqa: S608
    op.execute(
        """
        UPDATE customers SET last_active_at = COALESCE(
            (SELECT max(e.occurred_at) FROM events e WHERE e.customer_id = customers.id AND e.type = 'redeemed'),
            created_at
        )
        """
    )
    op.create_index("ix_customers_birth_month_day", "customers", ["birth_month_day", "id"], unique=False)
    op.create_index("ix_customers_last_active", "customers", ["last_active_at", "id"], unique=False)
    cursors = op.create_table(
        "event_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("candidate_id", sa.BigInteger(), nullable=False),
        sa.Column("candidate_xid", sa.BigInteger(), nullable=False),
        sa.Column("candidate_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_cursors")),
    )
    newest: sa.Select[int] = sa.select(sa.func.coalesce(sa.func.max(sa.column("id")), 0)).select_from(
        sa.table("events")
    )
    op.execute(
        cursors.insert().from_select(
            ["name", "position", "candidate_id", "candidate_xid", "candidate_at"],
            sa.select(
                sa.literal("triggers"),
                newest.scalar_subquery(),
                newest.scalar_subquery(),
                sa.literal(0),
                sa.func.current_timestamp(),
            ),
        )
    )


def downgrade() -> None:
    op.drop_table("event_cursors")
    op.drop_index("ix_customers_last_active", table_name="customers")
    op.drop_index("ix_customers_birth_month_day", table_name="customers")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("last_active_at")
        batch_op.drop_column("birth_month_day")
        batch_op.drop_column("timezone")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("trigger_hours")
        batch_op.drop_column("trigger_days")
        batch_op.drop_column("trigger_campaign_id")
        batch_op.drop_column("trigger_kind")
