"""Validate, redeem and void: parsing, throttling and what the ledger decided, for the API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.auth.principal import Principal
from tessera.campaigns.rules import discount_of
from tessera.campaigns.schemas import CampaignSummary
from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import InvalidCode, parse
from tessera.core.clock import Clock
from tessera.core.errors import Forbidden, TooManyRequests
from tessera.events.log import record
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.redemptions import CustomerRedemptionCount, Redemption
from tessera.offers.errors import refusal_error
from tessera.offers.rules import Attempt, decide
from tessera.offers.state import presented as read_presented
from tessera.redemptions.errors import AlreadyVoided, RedemptionNotFound, VoidNotAllowed
from tessera.redemptions.ledger import IdempotencyClaim, Outcome, RedeemRequest, RedemptionLedger
from tessera.redemptions.schemas import RedeemInput, StoreView, ValidateInput, ValidationView, VoidView
from tessera.redemptions.throttles import Throttles
from tessera.wallet.changes import campaign_passes_changed, owner_passes_changed, pass_changed


class RedemptionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ledger: RedemptionLedger,
        code_keys: CodeKeys,
        throttles: Throttles,
        clock: Clock,
        currency: str,
    ) -> None:
        self._sessions = sessions
        self._ledger = ledger
        self._code_keys = code_keys
        self._throttles = throttles
        self._clock = clock
        self._currency = currency

    async def redeem(
        self, principal: Principal, data: RedeemInput, idempotency: IdempotencyClaim | None
    ) -> Outcome:
        """Hand one redemption to the ledger; malformed codes never reach the database."""
        presented = parse(data.code, typed=data.entry == "manual")
        if principal.store_id is None:
            raise Forbidden("Only staff of a store can redeem")
        outcome = await self._ledger.redeem(
            RedeemRequest(
                digest=self._code_keys.digest(presented.code),
                medium=presented.medium,
                now=self._clock.now(),
                store_id=principal.store_id,
                staff_id=principal.id,
                order_total=data.order_total,
                idempotency=idempotency,
                throttle=self._throttles.scan(principal.id, principal.store_id),
            )
        )
        return outcome

    async def validate(self, principal: Principal, data: ValidateInput) -> ValidationView:
        """What a redemption by this till would answer now, without redeeming: the offer rules
        on the coupon as read. Without an ``order_total`` the minimum order is not judged yet;
        the answer names it, so the till can ask for the total."""
        presented = parse(data.code, typed=data.entry == "manual")
        now = self._clock.now()
        rule = self._throttles.scan(principal.id, principal.store_id)
        if await self._ledger.throttled(rule, now):
            raise TooManyRequests(rule.retry_after(now))
        digest = self._code_keys.digest(presented.code)
        attempt = Attempt(
            now, principal.store_id, order_total=data.order_total, order_checked=data.order_total is not None
        )
        async with self._sessions.begin() as session:
            found = await read_presented(session, digest)
            refusal = decide(
                found.state if found else None,
                found.terms if found else None,
                found.customer_redeemed if found else 0,
                attempt,
            )
            if refusal is None and found is not None:
                coupon, campaign, terms = found.coupon, found.campaign, found.terms
                await record(
                    session,
                    "validated",
                    now,
                    campaign_id=campaign.id,
                    coupon_id=coupon.id,
                    customer_id=coupon.customer_id,
                    channel=coupon.channel,
                    medium=presented.medium,
                    store_id=principal.store_id,
                    staff_id=principal.id,
                )
        if refusal is not None or found is None:
            if refusal is None or refusal.status == 404:
                await self._ledger.record_failure(rule, now)
                raise InvalidCode
            raise refusal_error(refusal.body()) or InvalidCode()
        return ValidationView(
            coupon_id=coupon.id,
            campaign=CampaignSummary(campaign.id, campaign.name, campaign.description),
            discount=discount_of(campaign),
            valid_from=coupon.starts_at,
            expires_at=coupon.expires_at,
            medium=presented.medium,
            min_order_total=campaign.min_order_total,
            stores=None if terms.stores is None else [StoreView(s.id, s.name) for s in terms.stores],
            currency=self._currency,
        )

    @staticmethod
    async def _give_back(session: AsyncSession, redemption: Redemption, now: datetime) -> None:
        """Count the voided redemption out of the limits. A limit that was spent and is open
        again changes the passes it held used up: the campaign's (all of them, through the
        outbox) or the owner's (their other coupons of the campaign)."""
        campaign = (
            await session.execute(
                update(Campaign)
                .where(Campaign.id == redemption.campaign_id, Campaign.max_redemptions.is_not(None))
                .values(redemption_count=Campaign.redemption_count - 1)
                .returning(Campaign.redemption_count, Campaign.max_redemptions)
            )
        ).first()
        if campaign is not None and campaign.redemption_count == campaign.max_redemptions - 1:
            await campaign_passes_changed(session, redemption.campaign_id, now, open_only=True)
        if redemption.customer_id is None:
            return
        owner_redeemed = await session.scalar(
            update(CustomerRedemptionCount)
            .where(
                CustomerRedemptionCount.campaign_id == redemption.campaign_id,
                CustomerRedemptionCount.customer_id == redemption.customer_id,
                CustomerRedemptionCount.redeemed > 0,
            )
            .values(redeemed=CustomerRedemptionCount.redeemed - 1)
            .returning(CustomerRedemptionCount.redeemed)
        )
        if owner_redeemed is None:
            return
        limit = await session.scalar(
            select(Campaign.per_customer_limit).where(Campaign.id == redemption.campaign_id)
        )
        if limit is not None and owner_redeemed == limit - 1:
            await owner_passes_changed(
                session, redemption.campaign_id, redemption.customer_id, redemption.coupon_id, now
            )

    async def void(self, session: AsyncSession, principal: Principal, redemption_id: int) -> VoidView:
        """Make a mistaken redemption undone: a ``void`` row, the coupon usable again."""
        if principal.role == "staff" and not principal.can_void:
            raise VoidNotAllowed("This staff account may not void redemptions")
        redemption = await session.scalar(
            select(Redemption).where(Redemption.id == redemption_id, Redemption.kind == "redeem")
        )
        if redemption is None or (principal.role == "staff" and redemption.store_id != principal.store_id):
            raise RedemptionNotFound
        now = self._clock.now()
        voided = await session.scalar(
            select(Redemption.id).where(
                Redemption.coupon_id == redemption.coupon_id,
                Redemption.seq == redemption.seq,
                Redemption.kind == "void",
            )
        )
        if voided is not None:
            raise AlreadyVoided
        void = Redemption(
            kind="void",
            coupon_id=redemption.coupon_id,
            seq=redemption.seq,
            campaign_id=redemption.campaign_id,
            customer_id=redemption.customer_id,
            store_id=principal.store_id if principal.store_id is not None else redemption.store_id,
            staff_id=principal.id if principal.role == "staff" else redemption.staff_id,
            medium=redemption.medium,
            channel=redemption.channel,
            order_total=redemption.order_total,
            occurred_at=now,
        )
        session.add(void)
        try:
            await session.flush()
        except IntegrityError as error:
            raise AlreadyVoided from error
        await session.execute(
            update(Coupon)
            .where(
                Coupon.id == redemption.coupon_id,
                Coupon.redemption_seq == redemption.seq,
                Coupon.redeemed_at.is_not(None),
            )
            .values(redeemed_at=None)
        )
        await self._give_back(session, redemption, now)
        await pass_changed(session, [redemption.coupon_id], now)
        await record(
            session,
            "voided",
            now,
            campaign_id=redemption.campaign_id,
            coupon_id=redemption.coupon_id,
            customer_id=redemption.customer_id,
            channel=redemption.channel,
            medium=redemption.medium,
            store_id=void.store_id,
            staff_id=void.staff_id,
            amount=redemption.order_total,
            redemption_id=redemption.id,
        )
        return VoidView(
            id=void.id, redemption_id=redemption.id, coupon_id=redemption.coupon_id, voided_at=now
        )
