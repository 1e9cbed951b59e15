"""Who a campaign reaches, decided in the database (the segment: ``segments``), so publishing
pages through customers without loading them into Python."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tessera.campaigns.segments import segment_condition
from tessera.coupons.issuing import CAMPAIGN_ORIGIN
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer


def in_audience(campaign: Campaign, dialect: str) -> tuple[ColumnElement[bool], ...]:
    """Consenting, not erased, in the segment (holding the coupon or not)."""
    return (
        Customer.marketing_consent.is_(True),
        Customer.erased_at.is_(None),
        segment_condition(campaign.segment, dialect),
    )


async def count_audience(session: AsyncSession, campaign: Campaign) -> tuple[int, int]:
    """``(to_reach, already_had)``: customers in the audience without the campaign's coupon, and
    those holding it already. An outer join (one coupon per customer at most, by the unique
    index) rather than a correlated test, so the planner may hash or merge it."""
    dialect = session.get_bind().dialect.name
    held = aliased(Coupon)
    row = (
        await session.execute(
            select(func.count(), func.count(held.id))
            .select_from(Customer)
            .outerjoin(
                held,
                and_(
                    held.campaign_id == campaign.id,
                    held.customer_id == Customer.id,
                    held.origin == CAMPAIGN_ORIGIN,
                ),
            )
            .where(*in_audience(campaign, dialect))
        )
    ).one()
    return int(row[0]) - int(row[1]), int(row[1])


@dataclass(frozen=True, slots=True)
class Page:
    to_reach: list[int]  # the page's customers without the campaign's coupon, in id order
    last_id: int | None  # the last customer id of the page (None: nobody after ``after``)
    full: bool  # ``limit`` customers read: more may follow


async def audience_page(session: AsyncSession, campaign: Campaign, after: int, limit: int) -> Page:
    """Up to ``limit`` customers of the audience above id ``after``, in id order, and which of
    them still need the coupon. The holders are looked up in the page's id range of the unique
    index, so each page costs the same however many coupons the campaign has (an anti-join
    with the coupons, planned from statistics of before the publish, sorted them all per page)."""
    dialect = session.get_bind().dialect.name
    ids = list(
        await session.scalars(
            select(Customer.id)
            .where(Customer.id > after, *in_audience(campaign, dialect))
            .order_by(Customer.id)
            .limit(limit)
        )
    )
    if not ids:
        return Page([], None, False)
    held = set(
        await session.scalars(
            select(Coupon.customer_id).where(
                Coupon.campaign_id == campaign.id,
                Coupon.customer_id.between(ids[0], ids[-1]),
                Coupon.origin == CAMPAIGN_ORIGIN,
            )
        )
    )
    return Page([i for i in ids if i not in held], ids[-1], len(ids) == limit)
