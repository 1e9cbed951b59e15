"""Giving prizes: a personal coupon of the prize's campaign (``issue_coupons``, which also
queues the new-offer push), or a prize recorded only, whose winners of a draw get a push of
their own through the outbox (topic ``CONTEST_PRIZE``), composed at delivery."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.core.settings import PushSettings
from tessera.coupons.issuing import issue_coupons
from tessera.events.log import event_row
from tessera.models.campaigns import Campaign
from tessera.models.contests import Contest, ContestPrize, ContestWinner
from tessera.models.customers import Customer
from tessera.models.outbox import OutboxMessage
from tessera.models.push import PushSubscription
from tessera.offers.state import cannot_issue
from tessera.outbox.service import OutboxItem
from tessera.push.sender import SubscriptionGone, WebPushSender

CONTEST_PRIZE: Final = "push_contest_prize"
log = structlog.get_logger(__name__)
TEXTS: Final = {
    "en": ("You won in {contest}!", "Your prize: {prize}. Open the app for the details."),
    "it": ("Hai vinto in {contest}!", "Il tuo premio: {prize}. Apri l'app per i dettagli."),
}


async def prize_coupons(
    session: AsyncSession,
    keys: CodeKeys,
    prize: ContestPrize,
    customer_ids: Sequence[int],
    *,
    origin: str,
    now: datetime,
) -> dict[int, int]:
    """Customer id → the coupon issued as ``prize`` (none for a prize without a campaign, or for
    a customer who erased their account)."""
    if prize.campaign_id is None or not customer_ids:
        return {}
    campaign = await session.get(Campaign, prize.campaign_id)
    if campaign is None:
        return {}
    reason = cannot_issue(campaign, now)
    if reason is not None:
        log.warning("prize campaign cannot issue", campaign_id=campaign.id, prize_id=prize.id, reason=reason)
        return {}
    present = list(
        await session.scalars(
            select(Customer.id).where(Customer.id.in_(customer_ids), Customer.erased_at.is_(None))
        )
    )
    issued = await issue_coupons(
        session, keys, campaign, sorted(present), origin=origin, channel="pwa", now=now
    )
    return {item.customer_id: item.coupon_id for item in issued if item.customer_id is not None}


async def queue_prize_pushes(session: AsyncSession, winners: Sequence[ContestWinner], now: datetime) -> None:
    """One outbox row per subscription of each winner who consented to push."""
    by_customer = {winner.customer_id: winner.id for winner in winners}
    if not by_customer:
        return
    rows = await session.execute(
        select(PushSubscription.id, PushSubscription.customer_id)
        .join(Customer, Customer.id == PushSubscription.customer_id)
        .where(
            PushSubscription.customer_id.in_(by_customer),
            Customer.push_consent.is_(True),
            Customer.erased_at.is_(None),
        )
    )
    for subscription_id, customer_id in rows:
        session.add(
            OutboxMessage(
                topic=CONTEST_PRIZE,
                target=str(subscription_id),
                payload={"winner_id": by_customer[customer_id]},
                created_at=now,
                available_at=now,
                attempts=0,
            )
        )


def compose(contest: Contest, prize: ContestPrize, locale: str | None) -> dict[str, object]:
    title, body = TEXTS.get((locale or "en")[:2].lower(), TEXTS["en"])
    return {
        "kind": "contest_prize",
        "title": title.format(contest=contest.name),
        "body": body.format(prize=prize.name),
        "contest_id": contest.id,
        "url": "/#contests",
        "tag": f"contest-{contest.id}",
    }


class ContestPrizePush:
    """The outbox handler of ``CONTEST_PRIZE``."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        clock: Clock,
        sender: WebPushSender,
        settings: PushSettings,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._clock = clock
        self._sender = sender
        self._settings = settings

    async def deliver(self, item: OutboxItem) -> list[dict[str, Any]]:
        winner_id = int((item.payload or {}).get("winner_id", 0))
        async with self._readers() as session:
            found = (
                await session.execute(
                    select(PushSubscription, ContestWinner, Contest, ContestPrize, Customer)
                    .join(Customer, Customer.id == PushSubscription.customer_id)
                    .join(ContestWinner, ContestWinner.customer_id == Customer.id)
                    .join(Contest, Contest.id == ContestWinner.contest_id)
                    .join(ContestPrize, ContestPrize.id == ContestWinner.prize_id)
                    .where(PushSubscription.id == int(item.target), ContestWinner.id == winner_id)
                )
            ).first()
        if found is None:
            return []  # the subscription went away
        subscription, winner, contest, prize, customer = found
        if not customer.push_consent or customer.erased_at is not None:
            return []
        try:
            await self._sender.send(
                {
                    "endpoint": subscription.endpoint,
                    "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                },
                json.dumps(compose(contest, prize, customer.locale)),
                ttl=self._settings.ttl_seconds,
                urgency="normal",
                topic=f"contest-{contest.id}",
            )
        except SubscriptionGone:
            async with self._sessions.begin() as session:
                await session.execute(delete(PushSubscription).where(PushSubscription.id == subscription.id))
            return []
        return [
            event_row(
                "notified",
                self._clock.now(),
                customer_id=winner.customer_id,
                data={"topic": CONTEST_PRIZE, "contest_id": contest.id, "prize_id": prize.id},
            )
        ]
