"""What the offer rules need, read from the database for those who decide by reading: validate,
what a coupon's owner is shown (the listing, the wallet passes, the wallet-link page), the
member-card lookup, and the jobs that pick coupons to remind of (the ledgers decide with
conditional writes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.redemptions import CustomerRedemptionCount, Redemption
from tessera.models.stores import Store
from tessera.offers.refusals import CouponStatus
from tessera.offers.rules import (
    CouponState,
    IssueTerms,
    OfferTerms,
    StoreRef,
    issue_refusal,
    limit_refusal,
    listing_status,
)


def terms_of(campaign: Campaign, store_names: Mapping[int, str]) -> OfferTerms:
    """``store_names`` holds at least the campaign's stores (``store_names_for``); a store that
    no longer exists keeps its id with an empty name."""
    stores = None
    if campaign.stores is not None:
        stores = tuple(StoreRef(store_id, store_names.get(store_id, "")) for store_id in campaign.stores)
    return OfferTerms(
        stores=stores,
        min_order_total=campaign.min_order_total,
        max_redemptions=campaign.max_redemptions,
        redemption_count=campaign.redemption_count,
        per_customer_limit=campaign.per_customer_limit,
    )


def cannot_issue(campaign: Campaign, now: datetime) -> str | None:
    """``rules.issue_refusal`` for this campaign: why a coupon of it issued now could never be
    used (``campaign_ended``, ``limit_reached``), or None."""
    terms = IssueTerms(
        ends_at=campaign.ends_at,
        max_redemptions=campaign.max_redemptions,
        redemption_count=campaign.redemption_count,
    )
    return issue_refusal(terms, now)


def campaign_spent(campaign: Campaign) -> bool:
    """Whether the campaign's redemptions are spent: ``rules.limit_refusal`` for nobody's coupon."""
    return limit_refusal(terms_of(campaign, {}), None, 0) is not None


def state_of(coupon: Coupon, redeemed_store: StoreRef | None = None) -> CouponState:
    return CouponState(
        starts_at=coupon.starts_at,
        expires_at=coupon.expires_at,
        redeemed_at=coupon.redeemed_at,
        revoked_at=coupon.revoked_at,
        customer_id=coupon.customer_id,
        redeemed_store=redeemed_store,
    )


async def store_names_for(session: AsyncSession, campaigns: Iterable[Campaign]) -> dict[int, str]:
    wanted = {store_id for campaign in campaigns for store_id in campaign.stores or ()}
    if not wanted:
        return {}
    rows = await session.execute(select(Store.id, Store.name).where(Store.id.in_(wanted)))
    return {store_id: name for store_id, name in rows}


async def redeemed_by(session: AsyncSession, customer_id: int, campaign_ids: Sequence[int]) -> dict[int, int]:
    """The customer's redemptions per campaign, net of voids (kept where a campaign sets a
    per-customer limit, which is the only place the rules read it)."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(CustomerRedemptionCount.campaign_id, CustomerRedemptionCount.redeemed).where(
            CustomerRedemptionCount.customer_id == customer_id,
            CustomerRedemptionCount.campaign_id.in_(set(campaign_ids)),
        )
    )
    return {campaign_id: redeemed for campaign_id, redeemed in rows}


async def owner_count(
    session: AsyncSession, coupon: Coupon, campaign: Campaign
) -> CustomerRedemptionCount | None:
    """The owner's redemption counter of the campaign, where the rules read one (a per-customer
    limit); None otherwise, or before the owner's first redemption."""
    if coupon.customer_id is None or campaign.per_customer_limit is None:
        return None
    return await session.get(CustomerRedemptionCount, (campaign.id, coupon.customer_id))


def listed(coupon: Coupon, campaign: Campaign, owner_redeemed: int, now: datetime) -> CouponStatus:
    """``rules.listing_status`` of a coupon row: what its owner is shown now. ``owner_redeemed``
    is the owner's net redemptions of the campaign (0 where no per-customer limit is set)."""
    return listing_status(state_of(coupon), terms_of(campaign, {}), owner_redeemed, now)


async def listing_of(
    session: AsyncSession, coupon: Coupon, campaign: Campaign, now: datetime
) -> CouponStatus:
    """What the coupon's owner is shown now, read in ``session``."""
    count = await owner_count(session, coupon, campaign)
    return listed(coupon, campaign, count.redeemed if count else 0, now)


def limits_open() -> ColumnElement[bool]:
    """``rules.limit_refusal(...) is None`` as SQL on coupon rows (checked against the rule by
    tests): neither the campaign's redemptions nor the owner's share of them are spent. For jobs
    that pick coupons to tell their owners about (a reminder of an offer nobody can redeem any
    more is noise)."""
    limited = aliased(Campaign)  # its own name: a caller's query may join the coupon's campaign
    spent_campaigns = select(limited.id).where(
        limited.max_redemptions.is_not(None), limited.redemption_count >= limited.max_redemptions
    )
    owner_spent = (
        select(CustomerRedemptionCount.campaign_id)
        .join(limited, limited.id == CustomerRedemptionCount.campaign_id)
        .where(
            CustomerRedemptionCount.campaign_id == Coupon.campaign_id,
            CustomerRedemptionCount.customer_id == Coupon.customer_id,
            limited.per_customer_limit.is_not(None),
            CustomerRedemptionCount.redeemed >= limited.per_customer_limit,
        )
        .correlate(Coupon)
        .exists()
    )
    return and_(Coupon.campaign_id.not_in(spent_campaigns), ~owner_spent)


@dataclass(frozen=True, slots=True)
class Presented:
    """A coupon found by its code, with everything ``rules.decide`` asks."""

    coupon: Coupon
    campaign: Campaign
    state: CouponState
    terms: OfferTerms
    customer_redeemed: int


async def presented(session: AsyncSession, digest: bytes) -> Presented | None:
    row = (
        await session.execute(
            select(Coupon, Campaign)
            .join(Campaign, Campaign.id == Coupon.campaign_id)
            .where(Coupon.code_digest == digest)
        )
    ).first()
    if row is None:
        return None
    coupon, campaign = row
    redeemed_store = None
    if coupon.redeemed_at is not None:
        where = (
            await session.execute(
                select(Store.id, Store.name)
                .join(Redemption, Redemption.store_id == Store.id)
                .where(
                    Redemption.coupon_id == coupon.id,
                    Redemption.seq == coupon.redemption_seq,
                    Redemption.kind == "redeem",
                )
            )
        ).first()
        redeemed_store = StoreRef(where[0], where[1]) if where else None
    counts = {}
    if coupon.customer_id is not None and campaign.per_customer_limit is not None:
        counts = await redeemed_by(session, coupon.customer_id, [campaign.id])
    return Presented(
        coupon=coupon,
        campaign=campaign,
        state=state_of(coupon, redeemed_store),
        terms=terms_of(campaign, await store_names_for(session, [campaign])),
        customer_redeemed=counts.get(campaign.id, 0),
    )
