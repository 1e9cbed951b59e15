"""Recording expiries: a coupon that reached its end unused gets an ``expired`` event (at the
moment it expired), once, so analytics count what lapsed next to what was redeemed."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.core.clock import Clock
from tessera.events.log import event_row, record_many
from tessera.models.coupons import Coupon

EXPIRY_BATCH = 1000


class ExpiryRecorder:
    """A worker job; several processes may run it (a coupon is marked by one of them only)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def run(self) -> int:
        """Record every expiry due; how many."""
        recorded = 0
        while True:
            batch = await self._record_batch()
            recorded += batch
            if batch < EXPIRY_BATCH:
                return recorded

    async def _record_batch(self) -> int:
        now = self._clock.now()
        unrecorded = (
            Coupon.expiry_recorded_at.is_(None),
            Coupon.redeemed_at.is_(None),
            Coupon.revoked_at.is_(None),
            Coupon.expires_at <= now,
        )
        async with self._sessions.begin() as session:
            # Rows another process is marking are skipped, not waited for (PostgreSQL; SQLite
            # has one writer), and the conditions are checked again on the update.
            due = (
                select(Coupon.id)
                .where(*unrecorded)
                .order_by(Coupon.expires_at)
                .limit(EXPIRY_BATCH)
                .with_for_update(skip_locked=True, of=Coupon)
            )
            marked = await session.execute(
                update(Coupon)
                .where(Coupon.id.in_(due.scalar_subquery()), *unrecorded)
                .values(expiry_recorded_at=now)
                .returning(
                    Coupon.id, Coupon.campaign_id, Coupon.customer_id, Coupon.channel, Coupon.expires_at
                )
            )
            rows = marked.all()
            await record_many(
                session,
                (
                    event_row(
                        "expired",
                        expires_at,
                        campaign_id=campaign_id,
                        coupon_id=coupon_id,
                        customer_id=customer_id,
                        channel=channel,
                    )
                    for coupon_id, campaign_id, customer_id, channel, expires_at in rows
                ),
            )
        return len(rows)
