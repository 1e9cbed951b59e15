"""The outbox handler of sent mail merges (topic ``merge_message``): each message composed at
delivery from ids and handed to the channel's sender (``messages.senders``).

The outbox row names the merge and the recipient; the customer's name and address are read now
and the codes derived again from their serials, so no code or address is stored in the outbox.
The message id is ``merge-<merge id>-<recipient index>``, the same on every retry (the
``Message-ID`` of the e-mail, ``X-Tessera-Message-Id`` of the webhook), so a receiver drops a
repeat. A recipient erased or withdrawn since, or a coupon revoked since, gets nothing: the
row is given up with the reason, which the merge's progress shows.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.campaigns.rules import code_display, code_for
from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.customers.unsubscribe import UnsubscribeLinks
from tessera.events.log import event_row
from tessera.mailmerge.plain_text import plain_text
from tessera.mailmerge.templates import CouponValues, Template, parse
from tessera.messages.events import Recipient, send_recorded
from tessera.messages.webhook import Message, MessageSender
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer
from tessera.models.mail_merges import MailMergeJob
from tessera.outbox.service import GiveUp, OutboxItem
from tessera.wallet.links.tokens import WalletLinks

KIND = "mail_merge"
_CACHED = 32  # merges whose parsed templates are kept


@dataclass(frozen=True, slots=True)
class _Merge:
    message_id: str
    channel: str
    html: bool
    subject: Template | None  # rendered as plain text: a header is no HTML
    body: Template
    campaigns: dict[str, int]


class MergeDelivery:
    def __init__(
        self,
        readers: async_sessionmaker[AsyncSession],
        sender: MessageSender,
        keys: CodeKeys,
        links: WalletLinks,
        unsubscribe: UnsubscribeLinks,
        clock: Clock,
        *,
        public_url: str,
    ) -> None:
        self._readers = readers
        self._sender = sender
        self._keys = keys
        self._links = links
        self._unsubscribe = unsubscribe
        self._clock = clock
        self._app_url = public_url
        self._merges: OrderedDict[int, _Merge] = OrderedDict()

    async def deliver(self, item: OutboxItem) -> list[dict[str, Any]]:
        payload = item.payload or {}
        index, customer_id = payload.get("index"), payload.get("customer_id")
        if not item.target.isdigit() or not isinstance(index, int) or not isinstance(customer_id, int):
            raise GiveUp("malformed mail-merge message")
        merge_id = int(item.target)
        async with self._readers() as session:
            merge = await self._merge(session, merge_id)
            customer = await session.get(Customer, customer_id)
            if customer is None or customer.erased_at is not None:
                raise GiveUp("recipient_erased")
            if not customer.marketing_consent:
                raise GiveUp("no_marketing_consent")
            address = customer.email if merge.channel == "email" else customer.phone
            if not address:
                raise GiveUp("no_address")
            rows = (
                await session.execute(
                    select(Coupon, Campaign)
                    .join(Campaign, Campaign.id == Coupon.campaign_id)
                    .where(
                        Coupon.customer_id == customer_id,
                        Coupon.origin == f"message:{merge.message_id}",
                        Coupon.campaign_id.in_(merge.campaigns.values()),
                    )
                )
            ).all()
        coupons = {campaign.id: (coupon, campaign) for coupon, campaign in rows}
        if len(coupons) < len(merge.campaigns) or any(c.revoked_at is not None for c, _ in coupons.values()):
            raise GiveUp("coupon_revoked")
        values = {slug: self._values(*coupons[campaign_id]) for slug, campaign_id in merge.campaigns.items()}
        name = customer.name or ""
        body = merge.body.render(name, values)
        text = plain_text(body) if merge.html else body
        subject = (
            merge.subject.render(name, values)
            if merge.subject
            else coupons[next(iter(merge.campaigns.values()))][1].name
        )
        email = merge.channel == "email"
        first_coupon = coupons[next(iter(merge.campaigns.values()))][0]
        now = self._clock.now()
        sent = await send_recorded(
            self._sender,
            Message(
                id=f"merge-{merge_id}-{index}",
                to=address,
                channel="email" if email else "sms",
                kind=KIND,
                locale=customer.locale or "",
                subject=subject,
                text=text,
                html=body if merge.html and email else None,
                unsubscribe_url=self._unsubscribe.url(customer_id) if email else None,
            ),
            Recipient(customer_id, first_coupon.campaign_id, first_coupon.id),
            now,
        )
        return sent + [
            event_row(
                "notified",
                now,
                campaign_id=coupon.campaign_id,
                coupon_id=coupon.id,
                customer_id=customer_id,
                channel=coupon.channel,
                data={"topic": item.topic, "merge_id": merge_id},
            )
            for coupon, _ in coupons.values()
        ]

    async def _merge(self, session: AsyncSession, merge_id: int) -> _Merge:
        merge = self._merges.get(merge_id)
        if merge is not None:
            self._merges.move_to_end(merge_id)
            return merge
        job = await session.get(MailMergeJob, merge_id)
        if job is None:
            raise GiveUp("mail merge not found")
        html = job.format == "html"
        merge = _Merge(
            message_id=job.message_id,
            channel=job.channel,
            html=html,
            subject=None if job.subject is None else parse(job.subject, "template.subject"),
            body=parse(job.body, "template.body", html_format=html),
            campaigns={str(slug): int(campaign_id) for slug, campaign_id in job.campaigns},
        )
        self._merges[merge_id] = merge
        while len(self._merges) > _CACHED:
            self._merges.popitem(last=False)
        return merge

    def _values(self, coupon: Coupon, campaign: Campaign) -> CouponValues:
        code = code_for(self._keys, campaign, coupon.serial)
        return CouponValues(
            code_display=code_display(campaign, code),
            coupon_url=f"{self._app_url}/#coupon-{coupon.id}",
            wallet_link=self._links.url(coupon.id, coupon.expires_at),
        )
