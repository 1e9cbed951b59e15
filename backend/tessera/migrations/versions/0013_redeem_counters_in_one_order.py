"""failed-scan counters written in one order by every redemption

- PostgreSQL: ``tessera_redeem`` (``sql/tessera_redeem_v4.sql``) adds to the attempt counters of
  a failed scan in subject order, as every other writer of them does. Two failed scans at once
  from tills of one store (their subjects overlap: the store, all scans) took the new rows'
  locks in different orders and deadlocked.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 23:50:00
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQL = Path(__file__).resolve().parent.parent / "sql"


def _run_sql_file(path: Path) -> None:
    for body in path.read_text().split("$$;"):
        if body.strip():
            op.execute(body + "$$;")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run_sql_file(_SQL / "tessera_redeem_v4.sql")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run_sql_file(_SQL / "tessera_redeem_v3.sql")
