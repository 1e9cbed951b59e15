"""contests: points collections and instant wins for codes printed under caps and labels

- ``contests`` (the seed's nonce and its public commitment), ``contest_prizes`` (top,
  consolation and instant tiers), ``contest_counters`` (an instant win's winner and budget caps).
- ``contest_code_batches`` and ``contest_codes`` (keyed digests only; a code entered once).
- ``contest_entries`` (append-only, unique per code), ``contest_participants`` (pseudonymous
  standings with the limit counters) and ``contest_winners`` (the draw's prizes).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 21:32:52
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("code_length", sa.Integer(), nullable=False),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("per_day_limit", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("pool_size", sa.BigInteger(), nullable=True),
        sa.Column("next_serial", sa.BigInteger(), nullable=False),
        sa.Column("seed_nonce", sa.LargeBinary(length=16), nullable=False),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("entries_closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("participants_digest", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_contests_window")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contests")),
    )
    op.create_table(
        "contest_code_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("generated", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contest_id"], ["contests.id"], name=op.f("fk_contest_code_batches_contest_id_contests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_code_batches")),
    )
    with op.batch_alter_table("contest_code_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contest_code_batches_contest_id"), ["contest_id"], unique=False)

    op.create_table(
        "contest_counters",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("max_winners", sa.Integer(), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=True),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("spent", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"], ["contests.id"], name=op.f("fk_contest_counters_contest_id_contests")
        ),
        sa.PrimaryKeyConstraint("contest_id", name=op.f("pk_contest_counters")),
    )
    op.create_table(
        "contest_participants",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("day_entries", sa.Integer(), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"], ["contests.id"], name=op.f("fk_contest_participants_contest_id_contests")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contest_participants_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("contest_id", "customer_id", name=op.f("pk_contest_participants")),
        sa.UniqueConstraint("contest_id", "alias", name=op.f("uq_contest_participants_contest_id_alias")),
    )
    with op.batch_alter_table("contest_participants", schema=None) as batch_op:
        batch_op.create_index("ix_contest_participants_standing", ["contest_id", "points"], unique=False)

    op.create_table(
        "contest_prizes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("won", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_contest_prizes_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["contest_id"], ["contests.id"], name=op.f("fk_contest_prizes_contest_id_contests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_prizes")),
        sa.UniqueConstraint(
            "contest_id", "tier", "position", name=op.f("uq_contest_prizes_contest_id_tier_position")
        ),
    )
    with op.batch_alter_table("contest_prizes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contest_prizes_contest_id"), ["contest_id"], unique=False)

    op.create_table(
        "contest_codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.Column("code_digest", sa.LargeBinary(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["contest_code_batches.id"],
            name=op.f("fk_contest_codes_batch_id_contest_code_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["contest_id"], ["contests.id"], name=op.f("fk_contest_codes_contest_id_contests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_codes")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_contest_codes_code_digest")),
        sa.UniqueConstraint("contest_id", "serial", name=op.f("uq_contest_codes_contest_id_serial")),
    )
    op.create_table(
        "contest_winners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=16), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("place", sa.Integer(), nullable=False),
        sa.Column("prize_id", sa.Integer(), nullable=False),
        sa.Column("coupon_id", sa.BigInteger(), nullable=True),
        sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"], ["contests.id"], name=op.f("fk_contest_winners_contest_id_contests")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contest_winners_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["prize_id"], ["contest_prizes.id"], name=op.f("fk_contest_winners_prize_id_contest_prizes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_winners")),
        sa.UniqueConstraint(
            "contest_id", "customer_id", name=op.f("uq_contest_winners_contest_id_customer_id")
        ),
        sa.UniqueConstraint(
            "contest_id", "tier", "place", name=op.f("uq_contest_winners_contest_id_tier_place")
        ),
    )
    op.create_table(
        "contest_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("medium", sa.String(length=16), nullable=False),
        sa.Column("prize_id", sa.Integer(), nullable=True),
        sa.Column("coupon_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["code_id"], ["contest_codes.id"], name=op.f("fk_contest_entries_code_id_contest_codes")
        ),
        sa.ForeignKeyConstraint(
            ["contest_id"], ["contests.id"], name=op.f("fk_contest_entries_contest_id_contests")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contest_entries_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["prize_id"], ["contest_prizes.id"], name=op.f("fk_contest_entries_prize_id_contest_prizes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_entries")),
        sa.UniqueConstraint("code_id", name=op.f("uq_contest_entries_code_id")),
    )
    with op.batch_alter_table("contest_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contest_entries_contest_customer", ["contest_id", "customer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("contest_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_contest_entries_contest_customer")

    op.drop_table("contest_entries")
    op.drop_table("contest_winners")
    op.drop_table("contest_codes")
    with op.batch_alter_table("contest_prizes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contest_prizes_contest_id"))

    op.drop_table("contest_prizes")
    with op.batch_alter_table("contest_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_contest_participants_standing")

    op.drop_table("contest_participants")
    op.drop_table("contest_counters")
    with op.batch_alter_table("contest_code_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contest_code_batches_contest_id"))

    op.drop_table("contest_code_batches")
    op.drop_table("contests")
