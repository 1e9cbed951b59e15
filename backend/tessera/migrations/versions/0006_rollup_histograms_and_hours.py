"""analytics rollups: one packed histogram per key, hourly figures per campaign

The rollups are rebuilt from the event log: the watermark goes back to the start, so the worker
folds every event again, now with the hourly figures the daily series read.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY_COLUMNS = (
    ("scope", sa.BigInteger()),
    ("dimension", sa.String(length=8)),
    ("key", sa.String(length=40)),
)


def _rebuild_from_the_start() -> None:
    op.execute("DELETE FROM analytics_totals")
    op.execute("UPDATE analytics_state SET rolled_up_to = 0, candidate_id = 0, candidate_xid = 0")


def upgrade() -> None:
    op.drop_table("analytics_latency")
    op.create_table(
        "analytics_latency",
        *(sa.Column(name, type_, nullable=False) for name, type_ in _KEY_COLUMNS),
        sa.Column("buckets", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "dimension", "key", name=op.f("pk_analytics_latency")),
    )
    _rebuild_from_the_start()


def downgrade() -> None:
    op.drop_table("analytics_latency")
    op.create_table(
        "analytics_latency",
        *(sa.Column(name, type_, nullable=False) for name, type_ in _KEY_COLUMNS),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "dimension", "key", "bucket", name=op.f("pk_analytics_latency")),
    )
    _rebuild_from_the_start()
