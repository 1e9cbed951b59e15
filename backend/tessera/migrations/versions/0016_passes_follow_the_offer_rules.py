"""passes follow the offer rules: a spent limit changes the passes it makes used up

- ``campaigns.passes_changed_at``: when every pass of the campaign last changed at once (its
  redemptions spent or freed, a limit or its look changed); part of each pass's version.
- ``customer_redemption_counts.passes_changed_at``: when the owner's per-customer limit was last
  spent or opened again; part of the version of their passes of the campaign.
- ``ix_coupons_campaign_in_wallet``: a campaign's coupons in a wallet, which the
  ``campaign_passes`` outbox rows walk to push them.
- PostgreSQL: ``tessera_redeem`` (``sql/tessera_redeem_v6.sql``) stamps both and queues the
  pushes when a redemption spends a limit, as the SQLite ledger does.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQL = Path(__file__).resolve().parent.parent / "sql"


def _run_sql_file(path: Path) -> None:
    for body in path.read_text().split("$$;"):
        if body.strip():
            op.execute(body + "$$;")


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("passes_changed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("customer_redemption_counts") as batch:
        batch.add_column(sa.Column("passes_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_coupons_campaign_in_wallet",
        "coupons",
        ["campaign_id", "id"],
        unique=False,
        sqlite_where=sa.text("wallet_added_at IS NOT NULL"),
        postgresql_where=sa.text("wallet_added_at IS NOT NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _run_sql_file(_SQL / "tessera_redeem_v6.sql")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run_sql_file(_SQL / "tessera_redeem_v5.sql")
    op.drop_index("ix_coupons_campaign_in_wallet", table_name="coupons")
    with op.batch_alter_table("customer_redemption_counts") as batch:
        batch.drop_column("passes_changed_at")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("passes_changed_at")
