"""Push subscriptions, and the notifications that go to them through the outbox.

A notification is an outbox row per subscription, queued in the transaction that issues the
coupon (or, for reminders, by the periodic job). The message itself is composed at delivery
from the coupon as it is then: only a coupon the offer rules still show its owner as usable is
announced, so one redeemed, expired, revoked or used up (its campaign's or its owner's limit
spent) in between is not. The reminder job does not pick used-up coupons in the first place.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import Select, bindparam, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.campaigns.rules import discount_of, discount_text
from tessera.core.clock import Clock
from tessera.core.db.base import UTCDateTime
from tessera.core.errors import InvalidValue
from tessera.core.settings import PushSettings
from tessera.events.log import event_row
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer
from tessera.models.push import PushSubscription
from tessera.models.redemptions import CustomerRedemptionCount
from tessera.models.triggers import TRIGGER_ORIGIN
from tessera.offers.state import limits_open, listed
from tessera.outbox.service import OutboxItem
from tessera.push.schemas import SubscriptionInput
from tessera.push.sender import SubscriptionGone, WebPushSender

NEW_OFFER: Final = "push_new_offer"
EXPIRY_REMINDER: Final = "push_expiry_reminder"
REMINDER_BATCH = 500

_QUEUE = text(
    """
INSERT INTO outbox (topic, target, coupon_id, created_at, available_at, attempts)
SELECT :topic, CAST(s.id AS VARCHAR(20)), c.id, :now, :now, 0
FROM coupons c
JOIN customers u ON u.id = c.customer_id
JOIN push_subscriptions s ON s.customer_id = c.customer_id
WHERE c.id IN :coupon_ids AND u.push_consent AND u.erased_at IS NULL
"""
).bindparams(bindparam("coupon_ids", expanding=True), bindparam("now", type_=UTCDateTime()))

TEXTS: Final = {
    "en": {
        NEW_OFFER: ("New coupon: {title}", "{discount}. Valid until {date}."),
        EXPIRY_REMINDER: ("Your coupon expires soon", "{title}: {discount}, until {date}."),
    },
    "it": {
        NEW_OFFER: ("Nuovo coupon: {title}", "{discount}. Valido fino al {date}."),
        EXPIRY_REMINDER: ("Il tuo coupon sta per scadere", "{title}: {discount}, fino al {date}."),
    },
}
# The new-offer title of a coupon a trigger issued, by the kind of trigger.
TRIGGERED_TITLES: Final = {
    "en": {
        "on_registration": "Welcome! A coupon for you: {title}",
        "on_redemption": "Thank you! Your next coupon: {title}",
        "inactive_for": "We miss you! A coupon for you: {title}",
        "birthday": "Happy birthday! A gift for you: {title}",
        "before_expiry": "One more chance: {title}",
    },
    "it": {
        "on_registration": "Ti diamo il benvenuto! Un coupon per te: {title}",
        "on_redemption": "Grazie! Il tuo prossimo coupon: {title}",
        "inactive_for": "Ci manchi! Un coupon per te: {title}",
        "birthday": "Buon compleanno! Un regalo per te: {title}",
        "before_expiry": "Un'altra occasione: {title}",
    },
}


async def queue_pushes(session: AsyncSession, topic: str, coupon_ids: list[int], now: datetime) -> None:
    """One outbox row per subscription of each coupon's owner who consented to push."""
    if coupon_ids:
        await session.execute(_QUEUE, {"topic": topic, "coupon_ids": coupon_ids, "now": now})


def check_endpoint(endpoint: str, *, production: bool) -> str:
    """A push service URL. In production only https to a named host: the server POSTs to it,
    so it must not be turned against internal addresses."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidValue("The endpoint must be an https URL", field="endpoint")
    if production:
        host = parts.hostname
        try:
            ipaddress.ip_address(host)
            is_address = True
        except ValueError:
            is_address = False
        if parts.scheme != "https" or is_address or host == "localhost" or "." not in host:
            raise InvalidValue("The endpoint must be an https URL of a push service", field="endpoint")
    return endpoint


class PushSubscriptions:
    def __init__(self, settings: PushSettings, *, production: bool) -> None:
        self.settings = settings
        self._production = production

    @property
    def vapid_public_key(self) -> str:
        """The ``applicationServerKey`` a browser subscribes with."""
        return self.settings.vapid_public_key

    async def subscribe(
        self, session: AsyncSession, customer_id: int, data: SubscriptionInput, now: datetime
    ) -> PushSubscription:
        """Keep the browser's subscription; an endpoint seen before moves to this customer."""
        endpoint = check_endpoint(data.endpoint, production=self._production)
        known = await session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
        if known is None:
            known = PushSubscription(
                customer_id=customer_id,
                endpoint=endpoint,
                p256dh=data.keys.p256dh,
                auth=data.keys.auth,
                created_at=now,
            )
            session.add(known)
        else:
            known.customer_id, known.p256dh, known.auth = customer_id, data.keys.p256dh, data.keys.auth
        await session.flush()
        return known

    async def unsubscribe(self, session: AsyncSession, customer_id: int, endpoint: str | None) -> int:
        statement = delete(PushSubscription).where(PushSubscription.customer_id == customer_id)
        if endpoint is not None:
            statement = statement.where(PushSubscription.endpoint == endpoint)
        result = await session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]


# A notification's subscription, coupon, campaign, owner and the owner's redemptions of it.
_Recipient = tuple[PushSubscription, Coupon, Campaign, Customer, int]


class PushDelivery:
    """The outbox handler for notifications and the expiry-reminder job."""

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
        self._prefetched: dict[tuple[int, int | None], _Recipient] = {}

    async def prefetch(self, items: Sequence[OutboxItem]) -> None:
        """Load the subscriptions and coupons of a whole batch in one query."""
        wanted = {(int(item.target), item.coupon_id) for item in items}
        async with self._readers() as session:
            rows = (
                await session.execute(
                    self._recipients().where(
                        PushSubscription.id.in_(sorted({subscription for subscription, _ in wanted})),
                        Coupon.id.in_(sorted({coupon for _, coupon in wanted if coupon is not None})),
                    )
                )
            ).all()
        for subscription, coupon, campaign, customer, owner_redeemed in rows:
            if (subscription.id, coupon.id) in wanted:
                self._prefetched[(subscription.id, coupon.id)] = (
                    subscription,
                    coupon,
                    campaign,
                    customer,
                    owner_redeemed or 0,
                )

    async def deliver(self, item: OutboxItem) -> list[dict[str, Any]]:
        """Send one notification; answers the ``notified`` event it stands for (none when
        nothing was sent)."""
        now = self._clock.now()
        key = (int(item.target), item.coupon_id)
        row = self._prefetched.pop(key, None)
        if row is None:
            async with self._readers() as session:
                found = (
                    await session.execute(
                        self._recipients().where(PushSubscription.id == key[0], Coupon.id == key[1])
                    )
                ).first()
            if found is None:
                return []  # the subscription or coupon went away: nothing to tell
            row = (found[0], found[1], found[2], found[3], found[4] or 0)
        subscription, coupon, campaign, customer, owner_redeemed = row
        if not customer.push_consent or customer.erased_at is not None:
            return []
        if listed(coupon, campaign, owner_redeemed, now) not in ("active", "scheduled"):
            return []  # redeemed, expired, revoked or used up since: the news is stale
        message = compose(item.topic, coupon, campaign, customer.locale)
        ttl = self._settings.ttl_seconds
        if item.topic == EXPIRY_REMINDER:
            ttl = max(60, min(ttl, int((coupon.expires_at - now).total_seconds())))
        try:
            await self._sender.send(
                {
                    "endpoint": subscription.endpoint,
                    "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                },
                json.dumps(message),
                ttl=ttl,
                urgency="high" if item.topic == EXPIRY_REMINDER else "normal",
                topic=f"coupon-{coupon.id}",
            )
        except SubscriptionGone:
            async with self._sessions.begin() as session:
                await session.execute(delete(PushSubscription).where(PushSubscription.id == subscription.id))
            return []
        return [
            event_row(
                "notified",
                now,
                campaign_id=coupon.campaign_id,
                coupon_id=coupon.id,
                customer_id=coupon.customer_id,
                channel=coupon.channel,
                data={"topic": item.topic},
            )
        ]

    @staticmethod
    def _recipients() -> Select[PushSubscription, Coupon, Campaign, Customer, int | None]:
        """Each subscription with its coupon, campaign, owner and the owner's redemptions of
        the campaign (what the offer rules ask of a per-customer limit)."""
        return (
            select(PushSubscription, Coupon, Campaign, Customer, CustomerRedemptionCount.redeemed)
            .join(Customer, Customer.id == PushSubscription.customer_id)
            .join(Coupon, Coupon.customer_id == Customer.id)
            .join(Campaign, Campaign.id == Coupon.campaign_id)
            .outerjoin(
                CustomerRedemptionCount,
                (CustomerRedemptionCount.campaign_id == Coupon.campaign_id)
                & (CustomerRedemptionCount.customer_id == Coupon.customer_id),
            )
        )

    async def remind_expiring(self) -> int:
        """Queue one reminder per coupon that expires within the reminder window."""
        now = self._clock.now()
        horizon = now + timedelta(hours=self._settings.reminder_hours)
        due = (
            Coupon.push_reminded_at.is_(None),
            Coupon.redeemed_at.is_(None),
            Coupon.revoked_at.is_(None),
            Coupon.expires_at > now,
            Coupon.expires_at <= horizon,
            limits_open(),
        )
        batch = (
            select(Coupon.id)
            .join(Customer, Customer.id == Coupon.customer_id)
            .where(
                Customer.push_consent.is_(True),
                Customer.id.in_(select(PushSubscription.customer_id)),
                *due,
            )
            .limit(REMINDER_BATCH)
            .with_for_update(skip_locked=True, of=Coupon)
        )
        async with self._sessions.begin() as session:
            # Claimed like outbox rows (coupons another process is marking are skipped on
            # PostgreSQL) and the conditions checked again on the update: each coupon is marked,
            # and its reminder queued, by one process only.
            coupon_ids = list(
                await session.scalars(
                    update(Coupon)
                    .where(Coupon.id.in_(batch.scalar_subquery()), *due)
                    .values(push_reminded_at=now)
                    .returning(Coupon.id)
                )
            )
            await queue_pushes(session, EXPIRY_REMINDER, coupon_ids, now)
        return len(coupon_ids)


def compose(topic: str, coupon: Coupon, campaign: Campaign, locale: str | None) -> dict[str, object]:
    """The notification the service worker shows; clicking it opens the coupon."""
    language = (locale or "en")[:2].lower()
    if language not in TEXTS:
        language = "en"
    title, body = TEXTS[language][topic]
    if topic == NEW_OFFER and coupon.origin == TRIGGER_ORIGIN and campaign.trigger_kind is not None:
        title = TRIGGERED_TITLES[language].get(campaign.trigger_kind, title)
    values = {
        "title": campaign.name,
        "discount": discount_text(discount_of(campaign)),
        "date": coupon.expires_at.date().isoformat(),
    }
    return {
        "kind": "new_offer" if topic == NEW_OFFER else "expiry_reminder",
        "title": title.format(**values),
        "body": body.format(**values),
        "coupon_id": coupon.id,
        "url": f"/#coupon-{coupon.id}",
        "tag": f"coupon-{coupon.id}",
    }
