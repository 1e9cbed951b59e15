"""redemptions take fewer locks: wallet hint on coupons, no parent keys on the redemption log

- ``coupons.wallet_added_at``: when a wallet first took the pass (Apple device registration,
  Google save). A redemption looks for wallet pushes only for such coupons.
- The redemption log keeps its key to the coupon but no longer to campaign, store, staff and
  customer: each of those checks took a KEY SHARE lock on the same few rows for every concurrent
  redemption. Like the event log, the rows are written only by the ledger, from the coupon row
  and the authenticated staff account.
- PostgreSQL: ``tessera_redeem`` becomes one function (see ``sql/tessera_redeem_v3.sql``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 13:30:00
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQL = Path(__file__).resolve().parent.parent / "sql"
# Frozen copy as of this revision.
REDEEM_FUNCTION = _SQL / "tessera_redeem_v3.sql"
_PARENTS = (
    ("campaign_id", "campaigns"),
    ("customer_id", "customers"),
    ("store_id", "stores"),
    ("staff_id", "staff_users"),
)


def _run_sql_file(path: Path) -> None:
    for body in path.read_text().split("$$;"):
        if body.strip():
            op.execute(body + "$$;")


def upgrade() -> None:
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wallet_added_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        """
        UPDATE coupons SET wallet_added_at = issued_at
        WHERE id IN (SELECT coupon_id FROM apple_registrations)
           OR id IN (SELECT coupon_id FROM google_wallet_objects WHERE saved_at IS NOT NULL)
        """
    )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        for column, table in _PARENTS:
            batch_op.drop_constraint(f"fk_redemptions_{column}_{table}", type_="foreignkey")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION tessera_redeem")
        op.execute("DROP FUNCTION tessera_redeem_decision")
        op.execute("DROP FUNCTION tessera_pass_changed")
        _run_sql_file(REDEEM_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION tessera_redeem")
        _run_sql_file(_SQL / "tessera_redeem_v1.sql")
        op.execute("ALTER FUNCTION tessera_redeem RENAME TO tessera_redeem_decision")
        _run_sql_file(_SQL / "tessera_redeem_v2.sql")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        for column, table in _PARENTS:
            batch_op.create_foreign_key(f"fk_redemptions_{column}_{table}", table, [column], ["id"])
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_column("wallet_added_at")
