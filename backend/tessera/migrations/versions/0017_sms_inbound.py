"""two-way SMS: inbound messages and campaign keywords

- ``sms_inbound``: each message the SMS gateway posted, under the gateway's id (a repeat is
  acknowledged and ignored), with what it was read as and where the reply goes.
- ``campaigns.sms_keyword``: the word that asks for the campaign's coupon by SMS, stored in upper
  case and unique.
- ``campaigns.voucher_target_id``: an SMS voucher campaign's target, whose coupon its printed codes
  are exchanged for; ``sms_voucher_counts``: the exchanges per voucher campaign and customer.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_inbound",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gateway_id", sa.String(length=100), nullable=False),
        sa.Column("from_number", sa.String(length=32), nullable=True),
        sa.Column("to_number", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("reply", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_inbound")),
        sa.UniqueConstraint("gateway_id", name=op.f("uq_sms_inbound_gateway_id")),
    )
    op.create_index(op.f("ix_sms_inbound_customer_id"), "sms_inbound", ["customer_id"], unique=False)
    op.add_column("campaigns", sa.Column("sms_keyword", sa.String(length=32), nullable=True))
    op.create_index("uq_campaigns_sms_keyword", "campaigns", ["sms_keyword"], unique=True)
    op.add_column("campaigns", sa.Column("voucher_target_id", sa.Integer(), nullable=True))
    op.create_table(
        "sms_voucher_counts",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("exchanged", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id", name=op.f("pk_sms_voucher_counts")),
    )


def downgrade() -> None:
    op.drop_table("sms_voucher_counts")
    op.drop_index("uq_campaigns_sms_keyword", table_name="campaigns")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("voucher_target_id")
        batch.drop_column("sms_keyword")
    op.drop_index(op.f("ix_sms_inbound_customer_id"), table_name="sms_inbound")
    op.drop_table("sms_inbound")
