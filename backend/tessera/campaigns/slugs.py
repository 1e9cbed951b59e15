"""Campaign slugs: the URL-safe names message templates use for campaigns (``{{coupon:spring-20}}``).

A slug is given on create or PATCH, or derived from the name; a derived slug that is taken gets
the first free ``-2``, ``-3``, … suffix. Slugs are unique (a database constraint decides races).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

import msgspec
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.core.errors import Conflict
from tessera.models.campaigns import Campaign

MAX_SLUG_LENGTH = 64
# Room for a "-NNNNNN" suffix after a derived base.
_MAX_BASE_LENGTH = MAX_SLUG_LENGTH - 8
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_SLUG_LENGTH,
        pattern=SLUG_PATTERN,
        description="Lower-case letters, digits and single hyphens, as templates name the campaign",
    ),
]
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


class SlugTaken(Conflict):
    code = "slug_taken"
    title = "Another campaign has this slug"


def slugify(name: str) -> str:
    """``"Café Crème 20%"`` → ``"cafe-creme-20"``; names with no letter or digit give ``campaign``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = _NOT_ALNUM.sub("-", ascii_name).strip("-")[:_MAX_BASE_LENGTH].rstrip("-")
    return base or "campaign"


async def free_slug(session: AsyncSession, base: str, *, campaign_id: int | None = None) -> str:
    """``base`` if no other campaign has it, else ``base-N`` with the smallest free N ≥ 2."""
    taken = set(
        (
            await session.scalars(
                select(Campaign.slug).where(
                    or_(Campaign.slug == base, Campaign.slug.like(f"{base}-%")),
                    Campaign.id != (campaign_id or 0),
                )
            )
        ).all()
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


async def check_free(session: AsyncSession, slug: str, campaign_id: int | None = None) -> None:
    """Refuse (409) a slug another campaign holds."""
    holder = await session.scalar(select(Campaign.id).where(Campaign.slug == slug))
    if holder is not None and holder != campaign_id:
        raise SlugTaken(f"The slug {slug!r} belongs to campaign {holder}", field="slug", campaign_id=holder)
