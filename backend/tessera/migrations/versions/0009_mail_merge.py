"""mail merges: campaign slugs

- ``campaigns.slug``: the unique, URL-safe name message templates use for a campaign
  (``{{coupon:spring-20}}``). Existing campaigns get one derived from their name, with ``-2``,
  ``-3``, … where two names give the same slug.

Per-message codes themselves need no table: they are coupons with the origin
``message:<message_id>``, one per (campaign, customer, origin) by the existing unique index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _slugify(name: str) -> str:
    """Frozen copy of ``tessera.campaigns.slugs.slugify`` as of this revision."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:56].rstrip("-")
    return base or "campaign"


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slug", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    campaigns = sa.table("campaigns", sa.column("id", sa.Integer), sa.column("name"), sa.column("slug"))
    taken: set[str] = set()
    for campaign_id, name in connection.execute(
        sa.select(campaigns.c.id, campaigns.c.name).order_by(campaigns.c.id)
    ).all():
        base = slug = _slugify(name)
        number = 2
        while slug in taken:
            slug, number = f"{base}-{number}", number + 1
        taken.add(slug)
        connection.execute(campaigns.update().where(campaigns.c.id == campaign_id).values(slug=slug))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.alter_column("slug", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_campaigns_slug", ["slug"])


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint("uq_campaigns_slug", type_="unique")
        batch_op.drop_column("slug")
