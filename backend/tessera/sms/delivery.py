"""The outbox handler of SMS replies: composed at delivery in the customer's language and
handed to the message webhook (``tessera.messages.webhook``, channel ``sms``).

The outbox row names the inbound message (whose number the reply goes to; erasure clears it)
and what to say; a coupon's code is derived from its serial here, never stored. Delivering the
same row twice sends the same message id, which the receiver can recognise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.campaigns.rules import code_display, code_for
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
        # Addressees loaded for a batch by ``prefetch``, taken by ``deliver``.
        self._prefetched: dict[int, _Addressee] = {}

    async def prefetch(self, items: Sequence[OutboxItem]) -> None:
        """Load the addressees of a whole batch in one query."""
        ids = sorted({int(item.target) for item in items if item.target.isdigit()})
        async with self._readers() as session:
            rows = await session.execute(_addressees().where(SmsInbound.id.in_(ids)))
            for inbound_id, to, customer_id, locale, found, erased_at in rows:
                self._prefetched[inbound_id] = _Addressee(to, customer_id, locale, found, erased_at)

    async def deliver(self, item: OutboxItem) -> list[dict[str, Any]]:
        payload = item.payload or {}
        kind = payload.get("reply")
        if kind not in TEXTS["en"] or not item.target.isdigit():
            raise GiveUp("malformed SMS reply")
        addressee = self._prefetched.pop(int(item.target), None)
        recipient: Recipient | None = None
        values: dict[str, object] = {"url": self._url, **payload.get("values", {})}
        if addressee is None or kind in COUPON_REPLIES:
            async with self._readers() as session:
                if addressee is None:
                    found = (
                        await session.execute(_addressees().where(SmsInbound.id == int(item.target)))
                    ).first()
                    if found is not None:
                        _, to, customer_id, locale, customer_found, erased_at = found
                        addressee = _Addressee(to, customer_id, locale, customer_found, erased_at)
                if addressee is not None and kind in COUPON_REPLIES:
                    coupon = await self._coupon_values(session, payload, addressee.customer_id)
                    if coupon is None:
                        return []  # the coupon is gone (revoked with its owner's erasure)
                    recipient, coupon_values = coupon
                    values.update(coupon_values)
        if addressee is None or addressee.to is None or addressee.gone:
            return []  # erased: nobody to tell
        message = Message(
            id=f"sms-reply-{item.id}",
            to=addressee.to,
            channel="sms",
            kind=f"sms_{kind}",
            locale=language_of(addressee.locale),
            subject=SUBJECT,
            text=reply_text(cast(ReplyKind, kind), addressee.locale, **values),
        )
        recipient = recipient or Recipient(addressee.customer_id)
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
            "code": code_display(campaign, code),
            "until": coupon.expires_at.date().isoformat(),
            "link": self._links.url(coupon.id, coupon.expires_at),
        }
        return Recipient(customer_id, campaign_id=campaign.id, coupon_id=coupon.id), values


@dataclass(frozen=True, slots=True)
class _Addressee:
    """Where a reply goes (None: erased), whose it is and in which language."""

    to: str | None
    customer_id: int | None
    locale: str | None
    customer_found: int | None
    erased_at: datetime | None

    @property
    def gone(self) -> bool:
        """The customer the message came from was erased (or is no more)."""
        return self.customer_id is not None and (self.customer_found is None or self.erased_at is not None)


def _addressees() -> Select[int, str | None, int | None, str | None, int, datetime | None]:
    return select(
        SmsInbound.id,
        SmsInbound.from_number,
        SmsInbound.customer_id,
        Customer.locale,
        Customer.id,
        Customer.erased_at,
    ).outerjoin(Customer, Customer.id == SmsInbound.customer_id)
