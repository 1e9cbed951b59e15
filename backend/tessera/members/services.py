"""Member cards: the customer's own card and its wallet passes, and the till's lookup of a card.

A card is made the first time its customer asks for it (so every card that can be shown exists);
its code is derived from the customer id, only its digest is stored. The lookup answers the
member's open coupons (redeemable now) with what the till needs to redeem one; unknown, forged,
malformed and erased cards get one answer and count as failed scans, like coupons.
"""

from __future__ import annotations

import io
from datetime import datetime

import segno
import structlog
from cachetools import LRUCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.auth.principal import Principal
from tessera.campaigns.rules import code_for, discount_of
from tessera.campaigns.schemas import CampaignSummary
from tessera.codes.formats import group
from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import (
    CardMedium,
    InvalidMemberCode,
    member_payload_for,
    parse_member,
    payload_for,
)
from tessera.core.clock import Clock
from tessera.core.errors import Forbidden, TooManyRequests
from tessera.core.settings import Settings
from tessera.customers.services import CustomerNotFound
from tessera.events.log import record
from tessera.members import wallet
from tessera.members.schemas import LookupInput, MemberCardView, MemberLookupView, MemberSummary, OpenCoupon
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer
from tessera.models.members import MemberCard
from tessera.offers.rules import Attempt, decide
from tessera.offers.state import redeemed_by, state_of, store_names_for, terms_of
from tessera.redemptions.ledger import RedemptionLedger
from tessera.redemptions.throttles import Throttles
from tessera.wallet.apple.services import ApplePasses
from tessera.wallet.google.services import GoogleWallet

log = structlog.get_logger("tessera.members")
CARD_PATH = "/api/me/card"
MAX_OPEN_COUPONS = 50  # a till shows this many, soonest to expire first
MAX_CANDIDATES = 500  # coupons in their window read to find them


class MemberCards:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        ledger: RedemptionLedger,
        code_keys: CodeKeys,
        throttles: Throttles,
        clock: Clock,
        settings: Settings,
        apple: ApplePasses,
        google: GoogleWallet,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._ledger = ledger
        self._code_keys = code_keys
        self._throttles = throttles
        self._clock = clock
        self._settings = settings
        self._apple = apple
        self._google = google
        self._qr_cache: LRUCache[int, str] = LRUCache(maxsize=10_000)

    # --- the customer's own card -----------------------------------------------------------------

    async def card(self, customer_id: int) -> tuple[MemberCard, str | None]:
        """The customer's card (made on first use) and their name; 404 once they are erased."""
        async with self._readers() as session:
            row = (
                await session.execute(
                    select(MemberCard, Customer.name)
                    .join(Customer, Customer.id == MemberCard.customer_id)
                    .where(MemberCard.customer_id == customer_id, Customer.erased_at.is_(None))
                )
            ).first()
        if row is not None:
            return row[0], row[1]
        async with self._sessions.begin() as session:
            # The customer's row is locked, so an erasure running now either comes first (and
            # the card is refused) or waits and then deletes the card made here.
            customer = await session.scalar(
                select(Customer).where(Customer.id == customer_id).with_for_update()
            )
            if customer is None or customer.erased_at is not None:
                raise CustomerNotFound
            card = await session.get(MemberCard, customer_id)
            if card is None:
                code = self._code_keys.member_code(customer_id)
                card = MemberCard(
                    customer_id=customer_id,
                    code_digest=self._code_keys.digest(code),
                    created_at=self._clock.now(),
                )
                session.add(card)
                await session.flush()
            return card, customer.name

    def view(self, card: MemberCard) -> MemberCardView:
        code = self._code_keys.member_code(card.customer_id)
        payload = member_payload_for(code, "pwa")
        return MemberCardView(
            member_code=code,
            code_display=group(code),
            qr_payload=payload,
            qr_svg=self._qr_svg(card.customer_id, payload),
            apple_pass_url=f"{CARD_PATH}/pass.pkpass",
            google_wallet_url=f"{CARD_PATH}/google-wallet",
        )

    async def apple_pass(self, customer_id: int) -> bytes:
        """The signed store card; the download is recorded."""
        card, name = await self.card(customer_id)
        code = self._code_keys.member_code(customer_id)
        content = await self._apple.build_store_card(wallet.store_card(self._settings, card, code, name))
        await self._downloaded(customer_id, "apple_wallet")
        return content

    async def google_link(self, customer_id: int) -> str:
        """The save link of the loyalty object; the download is recorded."""
        card, name = await self.card(customer_id)
        code = self._code_keys.member_code(customer_id)
        now = self._clock.now()
        url = self._google.member_card_link(wallet.loyalty_object(self._settings, card, code, name), now)
        await self._downloaded(customer_id, "google_wallet")
        return url

    async def _downloaded(self, customer_id: int, medium: CardMedium) -> None:
        async with self._sessions.begin() as session:
            await record(
                session,
                "member_card_downloaded",
                self._clock.now(),
                customer_id=customer_id,
                medium=medium,
            )

    def _qr_svg(self, customer_id: int, payload: str) -> str:
        cached = self._qr_cache.get(customer_id)
        if cached is None:
            buffer = io.BytesIO()
            segno.make_qr(payload, error="m").save(
                buffer, kind="svg", border=4, light="#fff", omitsize=True, xmldecl=False
            )
            cached = buffer.getvalue().decode()
            self._qr_cache[customer_id] = cached
        return cached

    # --- the till -----------------------------------------------------------------------------------

    async def lookup(self, principal: Principal, data: LookupInput) -> MemberLookupView:
        """The member behind a scanned card and their open coupons. Malformed input never
        reaches the database; an unknown card is a failed scan (throttled like coupon scans)."""
        presented = parse_member(data.code, typed=data.entry == "manual")
        if principal.store_id is None:
            raise Forbidden("Only staff of a store can look up members")
        now = self._clock.now()
        rule = self._throttles.scan(principal.id, principal.store_id)
        if await self._ledger.throttled(rule, now):
            raise TooManyRequests(rule.retry_after(now))
        digest = self._code_keys.digest(presented.code)
        async with self._sessions.begin() as session:
            member = (
                await session.execute(
                    select(MemberCard.customer_id, Customer.name)
                    .join(Customer, Customer.id == MemberCard.customer_id)
                    .where(MemberCard.code_digest == digest, Customer.erased_at.is_(None))
                )
            ).first()
            if member is not None:
                customer_id, name = member
                coupons = await self._open_coupons(session, customer_id, principal.store_id, now)
                await record(
                    session,
                    "member_looked_up",
                    now,
                    customer_id=customer_id,
                    medium=presented.medium,
                    store_id=principal.store_id,
                    staff_id=principal.id,
                    data={"open_coupons": len(coupons)},
                )
        if member is None:
            # A failed request changes nothing but the failure counters (as a failed coupon
            # scan); the log keeps who tried, where and with what kind of card.
            log.info(
                "member card not found",
                staff_id=principal.id,
                store_id=principal.store_id,
                medium=presented.medium,
            )
            await self._ledger.record_failure(rule, now)
            raise InvalidMemberCode
        return MemberLookupView(
            member=MemberSummary(display_name=wallet.display_name(name), card_ending=presented.code[-4:]),
            medium=presented.medium,
            coupons=coupons,
        )

    async def _open_coupons(
        self, session: AsyncSession, customer_id: int, store_id: int | None, now: datetime
    ) -> list[OpenCoupon]:
        """Coupons this store's till could redeem now, as the offer rules say (the minimum order
        aside: the till asks for the total). The query only narrows to coupons in their window."""
        candidates = (
            await session.execute(
                select(Coupon, Campaign)
                .join(Campaign, Campaign.id == Coupon.campaign_id)
                .where(
                    Coupon.customer_id == customer_id,
                    Coupon.redeemed_at.is_(None),
                    Coupon.revoked_at.is_(None),
                    Coupon.starts_at <= now,
                    Coupon.expires_at > now,
                )
                .order_by(Coupon.expires_at, Coupon.id)
                .limit(MAX_CANDIDATES)
            )
        ).all()
        campaigns = {campaign.id: campaign for _, campaign in candidates}
        limited = [campaign_id for campaign_id, c in campaigns.items() if c.per_customer_limit is not None]
        redeemed = await redeemed_by(session, customer_id, limited)
        names = await store_names_for(session, campaigns.values())
        attempt = Attempt(now, store_id, order_checked=False)

        def usable(coupon: Coupon, campaign: Campaign) -> bool:
            terms = terms_of(campaign, names)
            return decide(state_of(coupon), terms, redeemed.get(campaign.id, 0), attempt) is None

        rows = [(coupon, campaign) for coupon, campaign in candidates if usable(coupon, campaign)]
        rows = rows[:MAX_OPEN_COUPONS]
        return [
            OpenCoupon(
                coupon_id=coupon.id,
                campaign=CampaignSummary(campaign.id, campaign.name, campaign.description),
                discount=discount_of(campaign),
                valid_from=coupon.starts_at,
                expires_at=coupon.expires_at,
                redeem_code=payload_for(code_for(self._code_keys, campaign, coupon.serial), "member_card"),
                min_order_total=campaign.min_order_total,
            )
            for coupon, campaign in rows
        ]
