"""mail merges that are sent: a job per message, its messages queued in the outbox

- ``mail_merge_jobs``: one sent mail merge (``deliver: true``), with what its chunks render and
  issue, how far they got and what they counted, one per ``message_id``.
- ``mail_merge_messages``: each queued message with its recipient and outbox row, at most one
  per (merge, customer).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mail_merge_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(length=32), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("campaigns", JSON, nullable=False),
        sa.Column("recipients", JSON, nullable=False),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("problems", JSON, nullable=False),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_merge_jobs")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mail_merge_jobs_message_id")),
    )
    op.create_table(
        "mail_merge_messages",
        sa.Column("merge_id", sa.Integer(), nullable=False),
        sa.Column("recipient_index", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("outbox_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merge_id"], ["mail_merge_jobs.id"], name=op.f("fk_mail_merge_messages_merge_id_mail_merge_jobs")
        ),
        sa.PrimaryKeyConstraint("merge_id", "recipient_index", name=op.f("pk_mail_merge_messages")),
        sa.UniqueConstraint(
            "merge_id", "customer_id", name=op.f("uq_mail_merge_messages_merge_id_customer_id")
        ),
    )
    op.create_index("ix_mail_merge_messages_outbox_id", "mail_merge_messages", ["outbox_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mail_merge_messages_outbox_id", table_name="mail_merge_messages")
    op.drop_table("mail_merge_messages")
    op.drop_table("mail_merge_jobs")
