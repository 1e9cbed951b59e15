"""The outbox handler of SMS replies: composed at delivery in the customer's language and
handed to the message webhook (``tessera.messages.webhook``, channel ``sms``).

The outbox row names the inbound message (whose number the reply goes to; erasure clears it)
and what to say; a coupon's code is derived from its serial here, never stored. Delivering the
same row twice sends the same message id, which the receiver can recognise.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.campaigns.rules import code_for
from tessera.codes.formats import group
from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.messages.events import Recipient, send_recorded
from tessera.messages.webhook import Message, MessageSender
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer
from tessera.models.sms import SmsInbound
from tessera.outbox.service import GiveUp, OutboxItem
from tessera.sms.texts import TEXTS, ReplyKind, language_of, reply_text
from tessera.wallet.links.tokens import WalletLinks

SUBJECT = "Tessera"
# The replies that carry one of the receiver's coupons.
COUPON_REPLIES = frozenset({"coupon", "coupon_held", "voucher", "entry_win_code"})


class SmsReplies:
    def __init__(
        self,
        readers: async_sessionmaker[AsyncSession],
        clock: Clock,
        sender: MessageSender,
        code_keys: CodeKeys,
        links: WalletLinks,
        *,
        public_url: str,
    ) -> None:
        self._readers = readers
        self._clock = clock
        self._sender = sender
        self._keys = code_keys
        self._links = links
        self._url = f"{public_url}/"

    async def deliver(self, item: OutboxItem) -> list[dict[str, Any]]:
        payload = item.payload or {}
        kind = payload.get("reply")
        if kind not in TEXTS["en"] or not item.target.isdigit():
            raise GiveUp("malformed SMS reply")
        async with self._readers() as session:
            inbound = await session.get(SmsInbound, int(item.target))
            if inbound is None or inbound.from_number is None:
                return []  # erased: nobody to tell
            locale = None
            if inbound.customer_id is not None:
                customer = await session.get(Customer, inbound.customer_id)
                if customer is None or customer.erased_at is not None:
                    return []
                locale = customer.locale
            recipient = Recipient(inbound.customer_id)
            values: dict[str, object] = {"url": self._url, **payload.get("values", {})}
            if kind in COUPON_REPLIES:
                coupon = await self._coupon_values(session, payload, inbound.customer_id)
                if coupon is None:
                    return []  # the coupon is gone (revoked with its owner's erasure)
                recipient, coupon_values = coupon
                values.update(coupon_values)
        message = Message(
            id=f"sms-reply-{item.id}",
            to=inbound.from_number,
            channel="sms",
            kind=f"sms_{kind}",
            locale=language_of(locale),
            subject=SUBJECT,
            text=reply_text(cast(ReplyKind, kind), locale, **values),
        )
        return await send_recorded(self._sender, message, recipient, self._clock.now())

    async def _coupon_values(
        self, session: AsyncSession, payload: dict[str, Any], customer_id: int | None
    ) -> tuple[Recipient, dict[str, object]] | None:
        """The reply's coupon as the text shows it, and whom the message is about."""
        coupon = await session.get(Coupon, int(payload.get("coupon_id") or 0))
        if coupon is None or coupon.customer_id != customer_id or coupon.revoked_at is not None:
            return None
        campaign = await session.get(Campaign, coupon.campaign_id)
        if campaign is None:
            return None
        code = code_for(self._keys, campaign, coupon.serial)
        values: dict[str, object] = {
            "campaign": campaign.name,
            "code": group(code) if campaign.code_format == "random" else code,
            "until": coupon.expires_at.date().isoformat(),
            "link": self._links.url(coupon.id, coupon.expires_at),
        }
        return Recipient(customer_id, campaign_id=campaign.id, coupon_id=coupon.id), values
