"""publish jobs: publishing runs in the background, in short transactions

- ``publish_jobs``: one run of publishing a campaign, with the customer id it has reached and
  its counters (written in the transaction of each chunk), at most one running per campaign.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "publish_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("eligible", sa.BigInteger(), nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.Column("already_had", sa.BigInteger(), nullable=False),
        sa.Column("last_customer_id", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_publish_jobs_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publish_jobs")),
    )
    op.create_index(op.f("ix_publish_jobs_campaign_id"), "publish_jobs", ["campaign_id"], unique=False)
    op.create_index(
        "uq_publish_jobs_running",
        "publish_jobs",
        ["campaign_id"],
        unique=True,
        sqlite_where=sa.text("finished_at IS NULL"),
        postgresql_where=sa.text("finished_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_publish_jobs_running", table_name="publish_jobs")
    op.drop_index(op.f("ix_publish_jobs_campaign_id"), table_name="publish_jobs")
    op.drop_table("publish_jobs")
