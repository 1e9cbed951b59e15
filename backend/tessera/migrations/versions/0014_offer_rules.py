"""offer rules: stores and minimum order, decided in every ledger

- ``campaigns.stores``: the store ids whose tills may redeem the campaign (null: every store).
- ``campaigns.min_order_total``: the order total (minor units) a redemption must reach.
- PostgreSQL: ``tessera_redeem`` (``sql/tessera_redeem_v5.sql``) refuses another store's till
  (``wrong_store``) and an order below the minimum (``below_minimum``), as the SQLite ledger and
  ``tessera.offers.rules`` do.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQL = Path(__file__).resolve().parent.parent / "sql"


def _run_sql_file(path: Path) -> None:
    for body in path.read_text().split("$$;"):
        if body.strip():
            op.execute(body + "$$;")


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("stores", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")))
        batch.add_column(sa.Column("min_order_total", sa.BigInteger()))
    if op.get_bind().dialect.name == "postgresql":
        _run_sql_file(_SQL / "tessera_redeem_v5.sql")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run_sql_file(_SQL / "tessera_redeem_v4.sql")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("min_order_total")
        batch.drop_column("stores")
