"""customer sign-in with one-time codes

- ``customer_sessions``: customer tokens made by signing in (digest only), revoked by logout and
  erasure. The token registration answers stays on ``customers.token_digest``.
- ``customer_sign_in_codes``: one-time codes as keyed digests, with expiry and use.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_sessions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_sessions")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_customer_sessions_token_digest")),
    )
    op.create_index(
        op.f("ix_customer_sessions_customer_id"), "customer_sessions", ["customer_id"], unique=False
    )
    op.create_table(
        "customer_sign_in_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_sign_in_codes_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_sign_in_codes")),
    )
    op.create_index(
        op.f("ix_customer_sign_in_codes_customer_id"), "customer_sign_in_codes", ["customer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_sign_in_codes_customer_id"), table_name="customer_sign_in_codes")
    op.drop_table("customer_sign_in_codes")
    op.drop_index(op.f("ix_customer_sessions_customer_id"), table_name="customer_sessions")
    op.drop_table("customer_sessions")
