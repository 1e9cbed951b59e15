"""Forgetting the phone numbers of old inbound SMS.

A number is kept only so the reply can go to it and a repeat can be recognised; the gateway's id
serves the second for ever, so after ``TESSERA_SMS_NUMBER_DAYS`` the number is cleared (a reply
still queued by then is dropped, as after an erasure). Cleared a thousand rows per transaction,
so a till never waits behind the job on SQLite.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.core.clock import Clock
from tessera.models.sms import SmsInbound

CHUNK = 1000


class OldNumbers:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        clock: Clock,
        days: int,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._clock = clock
        self._kept = timedelta(days=days)

    async def forget(self) -> int:
        """Periodic job: clear the numbers of messages older than the retention; how many."""
        old = (SmsInbound.created_at < self._clock.now() - self._kept, SmsInbound.from_number.is_not(None))
        # A read first: a quiet minute must not take SQLite's write lock.
        async with self._readers() as session:
            if not await session.scalar(select(exists().where(*old))):
                return 0
        forgotten = 0
        while True:
            chunk = select(SmsInbound.id).where(*old).order_by(SmsInbound.id).limit(CHUNK)
            async with self._sessions.begin() as session:
                result = await session.execute(
                    update(SmsInbound)
                    .where(SmsInbound.id.in_(chunk.scalar_subquery()))
                    .values(from_number=None)
                    .execution_options(synchronize_session=False)
                )
            count = int(result.rowcount)  # type: ignore[attr-defined]
            forgotten += count
            if count < CHUNK:
                return forgotten
