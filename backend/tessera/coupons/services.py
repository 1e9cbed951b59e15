"""A customer's coupons as they see them, and their QR codes."""

from __future__ import annotations

import io
from datetime import datetime

import segno
from cachetools import LRUCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.campaigns.models import Campaign
from tessera.campaigns.rules import code_for, discount_of
from tessera.campaigns.schemas import CampaignSummary
from tessera.codes.formats import group
from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import payload_for
from tessera.coupons.models import Coupon
from tessera.coupons.schemas import CouponStatus, CouponView
from tessera.errors import NotFound


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    title = "No such coupon"


def coupon_status(coupon: Coupon, now: datetime) -> CouponStatus:
    if coupon.revoked_at is not None:
        return "revoked"
    if coupon.redeemed_at is not None:
        return "redeemed"
    if coupon.expires_at <= now:
        return "expired"
    if coupon.starts_at > now:
        return "scheduled"
    return "active"


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
        return [self._view(coupon, campaign, now) for coupon, campaign in rows]

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
        return self._view(row[0], row[1], now)

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

    def _view(self, coupon: Coupon, campaign: Campaign, now: datetime) -> CouponView:
        code = code_for(self._keys, campaign, coupon.serial)
        return CouponView(
            id=coupon.id,
            code=code,
            code_display=group(code) if campaign.code_format == "random" else code,
            qr_payload=payload_for(code, "pwa"),
            campaign=CampaignSummary(campaign.id, campaign.name, campaign.description),
            discount=discount_of(campaign),
            channel=coupon.channel,
            issued_at=coupon.issued_at,
            valid_from=coupon.starts_at,
            expires_at=coupon.expires_at,
            redeemed_at=coupon.redeemed_at,
            status=coupon_status(coupon, now),
            qr_svg_url=f"/api/coupons/{coupon.id}/qr.svg",
            apple_pass_url=f"/api/coupons/{coupon.id}/pass.pkpass" if coupon.customer_id else None,
            google_wallet_url=f"/api/coupons/{coupon.id}/google-wallet" if coupon.customer_id else None,
        )
