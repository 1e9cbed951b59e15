"""Outbox handlers that carry a pass change to the wallets, and the expiry-notice job.

Each handler is idempotent: an APNs push only says "something changed" (the device fetches the
current pass) and the Google state is what the offer rules show the owner at delivery, so a
repeated delivery after a crash changes nothing the receiver has not already seen. A change of
every pass of a campaign is walked in chunks, each queueing its pushes in a transaction that
also records its own delivery (``campaign_passes``).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, union, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.core.clock import Clock
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.outbox import OutboxMessage
from tessera.models.wallet_apple import AppleRegistration
from tessera.models.wallet_google import GoogleWalletObject
from tessera.offers.state import limits_open, listing_of
from tessera.outbox.service import GiveUp, OutboxItem, RetryLater, delivered_with
from tessera.wallet.apple.apns import ApnsClient, DeviceGone
from tessera.wallet.apple.services import AppleWebService
from tessera.wallet.changes import CAMPAIGN_PASSES, pass_changed, queue_pass_pushes
from tessera.wallet.google.api import GoogleWalletApi, PermanentWalletApiError, TransientWalletApiError
from tessera.wallet.google.objects import OFFER_STATES

EXPIRY_BATCH = 500
# Passes of a campaign whose pushes one transaction queues (a few milliseconds of writing).
CAMPAIGN_CHUNK = 500


class WalletDelivery:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        clock: Clock,
        apns: ApnsClient,
        google: GoogleWalletApi,
        apple_web: AppleWebService,
        expiry_notice_hours: int,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._clock = clock
        self._apns = apns
        self._google = google
        self._apple_web = apple_web
        self._notice = timedelta(hours=expiry_notice_hours)

    async def apple_push(self, item: OutboxItem) -> None:
        try:
            await self._apns.push(item.target)
        except DeviceGone:
            async with self._sessions.begin() as session:
                await self._apple_web.forget_push_token(session, item.target, self._clock.now())

    async def google_state(self, item: OutboxItem) -> None:
        now = self._clock.now()
        async with self._readers() as session:
            row = (
                await session.execute(
                    select(Coupon, Campaign)
                    .join(Campaign, Campaign.id == Coupon.campaign_id)
                    .where(Coupon.id == item.coupon_id)
                )
            ).first()
            if row is None:
                raise GiveUp("the coupon no longer exists")
            state = OFFER_STATES[await listing_of(session, row[0], row[1], now)]
        try:
            await self._google.set_object_state(item.target, state)
        except TransientWalletApiError as error:
            raise RetryLater(str(error), error.retry_after) from error
        except PermanentWalletApiError as error:
            raise GiveUp(str(error)) from error

    async def campaign_passes(self, item: OutboxItem) -> None:
        """Queue the wallet pushes of the next ``CAMPAIGN_CHUNK`` passes of the campaign in a
        wallet (``open_only``: of coupons neither redeemed nor revoked), after the coupon id
        ``after``. The same transaction records this row delivered and, while passes remain,
        queues the next chunk as a new row: a crash neither repeats a chunk nor loses one, and
        every chunk is a short transaction however many passes the campaign has."""
        payload = item.payload or {}
        after, open_only = int(payload.get("after", 0)), bool(payload.get("open_only", False))
        now = self._clock.now()
        chunk = (
            select(Coupon.id)
            .where(
                Coupon.campaign_id == int(item.target),
                Coupon.wallet_added_at.is_not(None),
                Coupon.id > after,
            )
            .order_by(Coupon.id)
            .limit(CAMPAIGN_CHUNK)
        )
        if open_only:
            chunk = chunk.where(Coupon.redeemed_at.is_(None), Coupon.revoked_at.is_(None))
        async with self._sessions.begin() as session:
            if not await delivered_with(session, item, now):
                raise RetryLater("the claim ran out: the worker that took the row over goes on")
            coupon_ids = list(await session.scalars(chunk))
            await queue_pass_pushes(session, coupon_ids, now)
            if len(coupon_ids) == CAMPAIGN_CHUNK:
                session.add(
                    OutboxMessage(
                        topic=CAMPAIGN_PASSES,
                        target=item.target,
                        coupon_id=None,
                        payload={"after": coupon_ids[-1], "open_only": open_only},
                        created_at=now,
                        available_at=now,
                        attempts=0,
                    )
                )

    async def notice_expiring(self) -> int:
        """Passes in a wallet whose coupon expires within the notice window change once
        ("expires soon"), so the wallet shows it; returns how many."""
        now = self._clock.now()
        in_wallet = union(
            select(AppleRegistration.coupon_id),
            select(GoogleWalletObject.coupon_id).where(
                GoogleWalletObject.saved_at.is_not(None), GoogleWalletObject.removed_at.is_(None)
            ),
        ).subquery()
        due = (
            Coupon.expiry_noticed_at.is_(None),
            Coupon.redeemed_at.is_(None),
            Coupon.revoked_at.is_(None),
            Coupon.expires_at > now,
            Coupon.expires_at <= now + self._notice,
            # A used-up offer's pass says so already; "expires soon" would tell nothing.
            limits_open(),
        )
        batch = (
            select(Coupon.id)
            .where(Coupon.id.in_(select(in_wallet.c.coupon_id)), *due)
            .limit(EXPIRY_BATCH)
            .with_for_update(skip_locked=True, of=Coupon)
        )
        async with self._sessions.begin() as session:
            # One conditional update claims and marks the batch: of processes running this job
            # at once, each takes coupons the others have not locked (PostgreSQL; SQLite has one
            # writer), and a coupon noticed meanwhile fails the conditions: each pass changes once.
            coupon_ids = list(
                await session.scalars(
                    update(Coupon)
                    .where(Coupon.id.in_(batch.scalar_subquery()), *due)
                    .values(expiry_noticed_at=now)
                    .returning(Coupon.id)
                )
            )
            await pass_changed(session, coupon_ids, now)
        return len(coupon_ids)
