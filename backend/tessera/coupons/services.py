"""A customer's coupons as they see them, and their QR codes."""

from __future__ import annotations

import io
from datetime import datetime

import segno
from cachetools import LRUCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.campaigns.rules import code_display, code_for, discount_of
from tessera.campaigns.schemas import CampaignSummary
from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import payload_for
from tessera.core.errors import NotFound
from tessera.coupons.schemas import CouponView
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.offers.state import listed, redeemed_by


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    title = "No such coupon"


class CouponService:
    def __init__(self, keys: CodeKeys) -> None:
        self._keys = keys
        self._qr_cache: LRUCache[int, str] = LRUCache(maxsize=10_000)

    async def for_customer(self, session: AsyncSession, customer_id: int, now: datetime) -> list[CouponView]:
        rows = (
            await session.execute(
                select(Coupon, Campaign)
                .join(Campaign, Campaign.id == Coupon.campaign_id)
                .where(Coupon.customer_id == customer_id)
                .order_by(Coupon.issued_at.desc(), Coupon.id.desc())
                .limit(500)
            )
        ).all()
        limited = [campaign.id for _, campaign in rows if campaign.per_customer_limit is not None]
        redeemed = await redeemed_by(session, customer_id, limited)
        return [self._view(coupon, campaign, now, redeemed.get(campaign.id, 0)) for coupon, campaign in rows]

    async def owned(self, session: AsyncSession, coupon_id: int, customer_id: int) -> tuple[Coupon, Campaign]:
        """The coupon if it belongs to this customer; otherwise the same 404 as for no coupon."""
        row = (
            await session.execute(
                select(Coupon, Campaign)
                .join(Campaign, Campaign.id == Coupon.campaign_id)
                .where(Coupon.id == coupon_id, Coupon.customer_id == customer_id)
            )
        ).first()
        if row is None:
            raise CouponNotFound
        return row[0], row[1]

    async def view_for_marketer(self, session: AsyncSession, coupon_id: int, now: datetime) -> CouponView:
        row = (
            await session.execute(
                select(Coupon, Campaign)
                .join(Campaign, Campaign.id == Coupon.campaign_id)
                .where(Coupon.id == coupon_id)
            )
        ).one()
        coupon, campaign = row
        redeemed = {}
        if coupon.customer_id is not None and campaign.per_customer_limit is not None:
            redeemed = await redeemed_by(session, coupon.customer_id, [campaign.id])
        return self._view(coupon, campaign, now, redeemed.get(campaign.id, 0))

    def qr_svg(self, coupon: Coupon, campaign: Campaign) -> str:
        cached = self._qr_cache.get(coupon.id)
        if cached is None:
            payload = payload_for(code_for(self._keys, campaign, coupon.serial), "pwa")
            buffer = io.BytesIO()
            # A viewBox and no fixed size, so the card can scale it; a white quiet zone even on
            # a dark page.
            segno.make_qr(payload, error="m").save(
                buffer, kind="svg", border=4, light="#fff", omitsize=True, xmldecl=False
            )
            cached = buffer.getvalue().decode()
            self._qr_cache[coupon.id] = cached
        return cached

    def _view(self, coupon: Coupon, campaign: Campaign, now: datetime, customer_redeemed: int) -> CouponView:
        """``customer_redeemed``: the owner's redemptions of the campaign, for its limit."""
        code = code_for(self._keys, campaign, coupon.serial)
        return CouponView(
            id=coupon.id,
            code=code,
            code_display=code_display(campaign, code),
            qr_payload=payload_for(code, "pwa"),
            campaign=CampaignSummary(campaign.id, campaign.name, campaign.description),
            discount=discount_of(campaign),
            channel=coupon.channel,
            issued_at=coupon.issued_at,
            valid_from=coupon.starts_at,
            expires_at=coupon.expires_at,
            redeemed_at=coupon.redeemed_at,
            status=listed(coupon, campaign, customer_redeemed, now),
            qr_svg_url=f"/api/coupons/{coupon.id}/qr.svg",
            apple_pass_url=f"/api/coupons/{coupon.id}/pass.pkpass" if coupon.customer_id else None,
            google_wallet_url=f"/api/coupons/{coupon.id}/google-wallet" if coupon.customer_id else None,
        )
