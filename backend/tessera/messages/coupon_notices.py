"""Messages that tell a customer of a new coupon by e-mail or SMS (a triggered campaign whose
``trigger.channel`` is ``email`` or ``sms``): the offer, the code and the wallet link.

The outbox row names the coupon only; the message is composed at delivery in the owner's
language with the code derived again (never stored in clear). It is marketing: nothing is sent
to an owner who withdrew marketing consent meanwhile, and an e-mail carries the owner's
one-click unsubscribe link.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.campaigns.rules import code_display, code_for, discount_of, discount_text
from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.customers.unsubscribe import UnsubscribeLinks
from tessera.messages.events import Recipient, send_recorded
from tessera.messages.webhook import Message, MessageSender
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer
from tessera.outbox.service import GiveUp, OutboxItem
from tessera.wallet.links.tokens import WalletLinks

TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "subject": "New coupon: {campaign}",
        "offer": "{campaign}: {discount}.",
        "code": "Your code: {code}, valid until {until}. Add it to your wallet: {link}",
        "unsubscribe": "No more offers: {unsubscribe}",
    },
    "it": {
        "subject": "Nuovo coupon: {campaign}",
        "offer": "{campaign}: {discount}.",
        "code": "Il tuo codice: {code}, valido fino al {until}. Aggiungilo al wallet: {link}",
        "unsubscribe": "Non ricevere più offerte: {unsubscribe}",
    },
    "hu": {
        "subject": "Új kupon: {campaign}",
        "offer": "{campaign}: {discount}.",
        "code": "A kódja: {code}, érvényes: {until}. Tegye a tárcájába: {link}",
        "unsubscribe": "Nem kérek több ajánlatot: {unsubscribe}",
    },
}


def language_of(locale: str | None) -> str:
    language = (locale or "en")[:2].lower()
    return language if language in TEXTS else "en"


class CouponNotices:
    """The outbox handler of triggered coupons' messages."""

    def __init__(
        self,
        readers: async_sessionmaker[AsyncSession],
        sender: MessageSender,
        code_keys: CodeKeys,
        links: WalletLinks,
        unsubscribe: UnsubscribeLinks,
        clock: Clock,
    ) -> None:
        self._clock = clock
        self._readers = readers
        self._sender = sender
        self._keys = code_keys
        self._links = links
        self._unsubscribe = unsubscribe

    async def deliver(self, item: OutboxItem) -> list[dict[str, Any]]:
        channel = (item.payload or {}).get("channel")
        if channel not in ("sms", "email") or not item.target.isdigit():
            raise GiveUp("malformed coupon notice")
        async with self._readers() as session:
            found = (
                await session.execute(
                    select(Coupon, Campaign, Customer)
                    .join(Campaign, Campaign.id == Coupon.campaign_id)
                    .join(Customer, Customer.id == Coupon.customer_id)
                    .where(Coupon.id == int(item.target))
                )
            ).first()
        if found is None:
            return []
        coupon, campaign, customer = found
        to = customer.email if channel == "email" else customer.phone
        if (
            not to
            or coupon.revoked_at is not None
            or customer.erased_at is not None
            or not customer.marketing_consent
        ):
            return []  # nobody to tell, or they asked for no more offers
        language = language_of(customer.locale)
        texts = TEXTS[language]
        code = code_for(self._keys, campaign, coupon.serial)
        lines = [
            texts["offer"].format(campaign=campaign.name, discount=discount_text(discount_of(campaign))),
            texts["code"].format(
                code=code_display(campaign, code),
                until=coupon.expires_at.date().isoformat(),
                link=self._links.url(coupon.id, coupon.expires_at),
            ),
        ]
        unsubscribe = None
        if channel == "email":
            unsubscribe = self._unsubscribe.url(customer.id)
            lines.append(texts["unsubscribe"].format(unsubscribe=unsubscribe))
        return await send_recorded(
            self._sender,
            Message(
                id=f"coupon-notice-{coupon.id}",
                to=to,
                channel=channel,
                kind="new_coupon",
                locale=language,
                subject=texts["subject"].format(campaign=campaign.name),
                text=" ".join(lines) if channel == "sms" else "\n\n".join(lines),
                unsubscribe_url=unsubscribe,
            ),
            Recipient(customer.id, campaign.id, coupon.id),
            self._clock.now(),
        )
