"""Outbox handlers that carry a pass change to the wallets, and the expiry-notice job.

Each handler is idempotent: an APNs push only says "something changed" (the device fetches the
current pass) and the Google state is computed from the coupon as it is now, so a repeated
delivery after a crash changes nothing the receiver has not already seen.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, union, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.core.clock import Clock
from tessera.coupons.services import coupon_status
from tessera.models.coupons import Coupon
from tessera.models.wallet_apple import AppleRegistration
from tessera.models.wallet_google import GoogleWalletObject
from tessera.outbox.service import GiveUp, OutboxItem, RetryLater
from tessera.wallet.apple.apns import ApnsClient, DeviceGone
from tessera.wallet.apple.services import AppleWebService
from tessera.wallet.changes import pass_changed
from tessera.wallet.google.api import GoogleWalletApi, PermanentWalletApiError, TransientWalletApiError

GOOGLE_STATE = {"redeemed": "COMPLETED", "revoked": "INACTIVE", "expired": "EXPIRED"}
EXPIRY_BATCH = 500


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
        async with self._readers() as session:
            coupon = await session.get(Coupon, item.coupon_id) if item.coupon_id is not None else None
        if coupon is None:
            raise GiveUp("the coupon no longer exists")
        state = GOOGLE_STATE.get(coupon_status(coupon, self._clock.now()), "ACTIVE")
        try:
            await self._google.set_object_state(item.target, state)
        except TransientWalletApiError as error:
            raise RetryLater(str(error), error.retry_after) from error
        except PermanentWalletApiError as error:
            raise GiveUp(str(error)) from error

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
