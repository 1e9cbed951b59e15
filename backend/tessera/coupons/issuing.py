"""Issuing coupons: serial allocation, code digests and ``issued`` events in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.campaigns.rules import code_for, coupon_expiry
from tessera.codes.formats import EAN_SERIAL_SPACE
from tessera.codes.keys import CodeKeys
from tessera.core.errors import Unprocessable
from tessera.events.log import event_row, record_many
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.push.services import NEW_OFFER, queue_pushes

CAMPAIGN_ORIGIN = "campaign"  # the one coupon per customer from publishing or registration
# Coupons that reach the customer in the app get a push; e-mail/SMS/print ones travel otherwise.
PUSHED_CHANNELS = frozenset({"pwa", "push"})


class CodeSpaceExhausted(Unprocessable):
    code = "code_space_exhausted"
    title = "This campaign's code format has no codes left"


@dataclass(frozen=True, slots=True)
class Issued:
    coupon_id: int
    customer_id: int | None
    serial: int


async def allocate_serials(session: AsyncSession, campaign: Campaign, count: int) -> int:
    """Reserve ``count`` serials; returns the first. Concurrent callers get disjoint ranges."""
    end = (
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id)
            .values(next_serial=Campaign.next_serial + count)
            .returning(Campaign.next_serial)
        )
    ).scalar_one()
    if campaign.code_format == "ean13" and end > EAN_SERIAL_SPACE:
        raise CodeSpaceExhausted("EAN-13 campaigns hold at most 1,000,000 codes")
    return int(end) - count


async def issue_coupons(
    session: AsyncSession,
    keys: CodeKeys,
    campaign: Campaign,
    customer_ids: Sequence[int | None],
    *,
    origin: str,
    channel: str,
    now: datetime,
) -> list[Issued]:
    """One coupon per entry of ``customer_ids``; a customer who already holds a coupon of this
    ``origin`` in this campaign is skipped (unique index), so repeating a call issues nothing."""
    if not customer_ids:
        return []
    first = await allocate_serials(session, campaign, len(customer_ids))
    expires_at = coupon_expiry(campaign, now)
    rows = [
        {
            "campaign_id": campaign.id,
            "serial": first + offset,
            "code_digest": keys.digest(code_for(keys, campaign, first + offset)),
            "customer_id": customer_id,
            "origin": origin,
            "channel": channel,
            "issued_at": now,
            "starts_at": campaign.starts_at,
            "expires_at": expires_at,
            "redemption_seq": 0,
        }
        for offset, customer_id in enumerate(customer_ids)
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, Coupon.__table__)
    # Executemany on the table (SQLAlchemy batches it into multi-row INSERTs with RETURNING from
    # one cached compilation): a thousand rows cost a fraction of compiling ``.values(rows)``.
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["campaign_id", "customer_id", "origin"])
        .returning(table.c.id, table.c.customer_id, table.c.serial)
    )
    issued = [Issued(*row) for row in (await session.execute(statement, rows)).all()]
    await record_many(
        session,
        (
            event_row(
                "issued",
                now,
                campaign_id=campaign.id,
                coupon_id=item.coupon_id,
                customer_id=item.customer_id,
                channel=channel,
            )
            for item in issued
        ),
    )
    if channel in PUSHED_CHANNELS:
        owned = [item.coupon_id for item in issued if item.customer_id is not None]
        await queue_pushes(session, NEW_OFFER, owned, now)
    return issued
