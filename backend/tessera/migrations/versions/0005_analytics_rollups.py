"""analytics rollups

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redemption_id", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_events_customer", ["customer_id"], unique=False)
    # Existing voids: the redemption of the same coupon and sequence number.
    op.execute(
        """
        UPDATE events SET redemption_id = (
            SELECT r.id FROM redemptions r
            JOIN redemptions v ON v.coupon_id = r.coupon_id AND v.seq = r.seq AND v.kind = 'void'
            WHERE r.kind = 'redeem' AND v.coupon_id = events.coupon_id AND v.occurred_at = events.occurred_at
        )
        WHERE type = 'voided'
        """
    )
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expiry_recorded_at", sa.DateTime(timezone=True), nullable=True))
    unrecorded = sa.text("expiry_recorded_at IS NULL AND redeemed_at IS NULL AND revoked_at IS NULL")
    op.create_index(
        "ix_coupons_expiry_unrecorded",
        "coupons",
        ["expires_at"],
        sqlite_where=unrecorded,
        postgresql_where=unrecorded,
    )
    op.create_table(
        "analytics_totals",
        sa.Column("scope", sa.BigInteger(), nullable=False),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("firsts", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "dimension", "key", "type", name=op.f("pk_analytics_totals")),
    )
    op.create_table(
        "analytics_latency",
        sa.Column("scope", sa.BigInteger(), nullable=False),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "dimension", "key", "bucket", name=op.f("pk_analytics_latency")),
    )
    state = op.create_table(
        "analytics_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rolled_up_to", sa.BigInteger(), nullable=False),
        sa.Column("candidate_id", sa.BigInteger(), nullable=False),
        sa.Column("candidate_xid", sa.BigInteger(), nullable=False),
        sa.Column("candidate_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_state")),
    )
    op.execute(
        state.insert().values(
            id=1, rolled_up_to=0, candidate_id=0, candidate_xid=0, candidate_at=sa.func.current_timestamp()
        )
    )


def downgrade() -> None:
    op.drop_table("analytics_state")
    op.drop_table("analytics_latency")
    op.drop_table("analytics_totals")
    op.drop_index("ix_coupons_expiry_unrecorded", table_name="coupons")
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_column("expiry_recorded_at")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_customer")
        batch_op.drop_column("redemption_id")
