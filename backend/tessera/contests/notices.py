"""Telling the winners of a draw, each through the channel they took part by: a winner who
entered a code by SMS gets an SMS, one who took part in the app a push when subscribed (the
contest prize push, ``prizes.queue_prize_pushes``) and an e-mail otherwise.

The outbox row names the winner only; the message is composed at delivery in the winner's
language, with a coupon prize's code derived again (never stored in clear). The marketer sees
the draw record's aliases, never a winner's address or number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.campaigns.rules import code_display, code_for
from tessera.codes.keys import CodeKeys
from tessera.contests.entries import SMS_MEDIUM
from tessera.contests.prizes import queue_prize_pushes
from tessera.core.clock import Clock
from tessera.messages.events import Recipient, send_recorded
from tessera.messages.webhook import Message, MessageSender
from tessera.models.campaigns import Campaign
from tessera.models.contests import Contest, ContestEntry, ContestPrize, ContestWinner
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer
from tessera.models.outbox import OutboxMessage
from tessera.models.push import PushSubscription
from tessera.outbox.service import GiveUp, OutboxItem
from tessera.wallet.links.tokens import WalletLinks

CONTEST_PRIZE_MESSAGE: Final = "contest_prize_message"
Channel = Literal["sms", "email"]

TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "subject": "You won in {contest}!",
        "won": "You won in {contest}: {prize}.",
        "code": "Your code: {code}, valid until {until}. Wallet: {link}",
        "contact": "We will contact you about your prize.",
    },
    "it": {
        "subject": "Hai vinto in {contest}!",
        "won": "Hai vinto in {contest}: {prize}.",
        "code": "Il tuo codice: {code}, valido fino al {until}. Wallet: {link}",
        "contact": "Ti contatteremo per il premio.",
    },
    "hu": {
        "subject": "Nyert a következőben: {contest}!",
        "won": "Nyert a következőben: {contest}: {prize}.",
        "code": "A kódja: {code}, érvényes: {until}. Wallet: {link}",
        "contact": "A nyereményével kapcsolatban felvesszük Önnel a kapcsolatot.",
    },
}


def language_of(locale: str | None) -> str:
    language = (locale or "en")[:2].lower()
    return language if language in TEXTS else "en"


async def queue_prize_notices(
    session: AsyncSession,
    contest_id: int,
    winners: Sequence[tuple[ContestWinner, ContestPrize]],
    now: datetime,
) -> None:
    """Queue each winner's notice in the draw's transaction. A coupon prize already brings the
    app's new-offer push, so app winners of one are told by e-mail only when not subscribed."""
    ids = sorted({winner.customer_id for winner, _ in winners})
    if not ids:
        return
    by_sms = set(
        await session.scalars(
            select(ContestEntry.customer_id)
            .where(
                ContestEntry.contest_id == contest_id,
                ContestEntry.customer_id.in_(ids),
                ContestEntry.medium == SMS_MEDIUM,
            )
            .distinct()
        )
    )
    contacts = {
        row.id: row
        for row in await session.execute(
            select(Customer.id, Customer.email, Customer.phone).where(
                Customer.id.in_(ids), Customer.erased_at.is_(None)
            )
        )
    }
    subscribed = set(
        await session.scalars(
            select(PushSubscription.customer_id)
            .join(Customer, Customer.id == PushSubscription.customer_id)
            .where(PushSubscription.customer_id.in_(ids), Customer.push_consent.is_(True))
            .distinct()
        )
    )
    pushed: list[ContestWinner] = []
    for winner, prize in winners:
        contact = contacts.get(winner.customer_id)
        if contact is None:
            continue  # erased
        channel: Channel | None = None
        if winner.customer_id in by_sms and contact.phone:
            channel = "sms"
        elif winner.customer_id in subscribed:
            if prize.campaign_id is None:
                pushed.append(winner)
            continue
        elif contact.email:
            channel = "email"
        elif contact.phone:
            channel = "sms"
        if channel is not None:
            session.add(
                OutboxMessage(
                    topic=CONTEST_PRIZE_MESSAGE,
                    target=str(winner.id),
                    payload={"channel": channel},
                    created_at=now,
                    available_at=now,
                    attempts=0,
                )
            )
    await queue_prize_pushes(session, pushed, now)


class ContestPrizeMessages:
    """The outbox handler of ``CONTEST_PRIZE_MESSAGE``."""

    def __init__(
        self,
        readers: async_sessionmaker[AsyncSession],
        sender: MessageSender,
        code_keys: CodeKeys,
        links: WalletLinks,
        clock: Clock,
    ) -> None:
        self._clock = clock
        self._readers = readers
        self._sender = sender
        self._keys = code_keys
        self._links = links

    async def deliver(self, item: OutboxItem) -> list[dict[str, Any]]:
        channel = (item.payload or {}).get("channel")
        if channel not in ("sms", "email") or not item.target.isdigit():
            raise GiveUp("malformed contest prize message")
        async with self._readers() as session:
            found = (
                await session.execute(
                    select(ContestWinner, Contest, ContestPrize, Customer)
                    .join(Contest, Contest.id == ContestWinner.contest_id)
                    .join(ContestPrize, ContestPrize.id == ContestWinner.prize_id)
                    .join(Customer, Customer.id == ContestWinner.customer_id)
                    .where(ContestWinner.id == int(item.target))
                )
            ).first()
            if found is None:
                return []
            winner, contest, prize, customer = found
            to = customer.phone if channel == "sms" else customer.email
            if customer.erased_at is not None or not to:
                return []  # erased since, or the contact is gone: nobody to tell
            texts = TEXTS[language_of(customer.locale)]
            lines = [texts["won"].format(contest=contest.name, prize=prize.name)]
            coupon_line = await self._coupon_line(session, winner.coupon_id, texts["code"])
            lines.append(coupon_line or texts["contact"])
        return await send_recorded(
            self._sender,
            Message(
                id=f"contest-prize-{winner.id}",
                to=to,
                channel=channel,
                kind="contest_prize",
                locale=language_of(customer.locale),
                subject=texts["subject"].format(contest=contest.name),
                text=" ".join(lines) if channel == "sms" else "\n\n".join(lines),
            ),
            Recipient(winner.customer_id, prize.campaign_id, winner.coupon_id),
            self._clock.now(),
        )

    async def _coupon_line(self, session: AsyncSession, coupon_id: int | None, template: str) -> str | None:
        if coupon_id is None:
            return None
        coupon = await session.get(Coupon, coupon_id)
        if coupon is None or coupon.revoked_at is not None:
            return None
        campaign = await session.get(Campaign, coupon.campaign_id)
        if campaign is None:
            return None
        code = code_for(self._keys, campaign, coupon.serial)
        return template.format(
            code=code_display(campaign, code),
            until=coupon.expires_at.date().isoformat(),
            link=self._links.url(coupon.id, coupon.expires_at),
        )
