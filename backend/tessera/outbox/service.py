"""Claiming, completing and retrying outbox rows.

A claim is a lease: ``claimed_until`` hides the row from other workers while one delivers it,
and a worker that dies mid-delivery simply lets the lease run out. On PostgreSQL the claim skips
rows another worker is claiming at that moment (``FOR UPDATE SKIP LOCKED``), so any number of
workers can share the table; on SQLite the write lock serialises claims.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.clock import Clock
from tessera.outbox.models import OutboxMessage
from tessera.settings import WorkerSettings

MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    topic: str
    target: str
    coupon_id: int | None
    payload: dict[str, Any] | None
    attempts: int


class RetryLater(Exception):
    """A temporary failure: deliver again after a backoff (or after ``retry_after`` seconds)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class GiveUp(Exception):
    """A permanent failure: trying again cannot help; the reason is kept on the row."""


def _pending(now: datetime) -> Any:
    return (
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.available_at <= now,
        (OutboxMessage.claimed_until.is_(None)) | (OutboxMessage.claimed_until <= now),
    )


class Outbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: WorkerSettings,
        *,
        skip_locked: bool,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._clock = clock
        self._settings = settings
        self._skip_locked = skip_locked

    async def claim(self, limit: int) -> list[OutboxItem]:
        """Lease up to ``limit`` due rows to this worker."""
        now = self._clock.now()
        # A read first: idle polling must not take SQLite's write lock.
        async with self._readers() as session:
            if not await session.scalar(select(exists().where(*_pending(now)))):
                return []
        due = select(OutboxMessage.id).where(*_pending(now)).order_by(OutboxMessage.id).limit(limit)
        if self._skip_locked:
            due = due.with_for_update(skip_locked=True)
        async with self._sessions.begin() as session:
            rows = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(due.scalar_subquery()))
                .values(
                    claimed_until=now + timedelta(seconds=self._settings.lease_seconds),
                    attempts=OutboxMessage.attempts + 1,
                )
                .returning(
                    OutboxMessage.id,
                    OutboxMessage.topic,
                    OutboxMessage.target,
                    OutboxMessage.coupon_id,
                    OutboxMessage.payload,
                    OutboxMessage.attempts,
                )
                .execution_options(synchronize_session=False)
            )
            items = [OutboxItem(*row) for row in rows]
        return sorted(items, key=lambda item: item.id)

    async def delivered(self, item: OutboxItem) -> None:
        await self._finish(item, delivered_at=self._clock.now(), claimed_until=None)

    async def failed(self, item: OutboxItem, reason: str) -> None:
        await self._finish(
            item, failed_at=self._clock.now(), claimed_until=None, last_error=reason[:MAX_ERROR_LENGTH]
        )

    async def retry(self, item: OutboxItem, reason: str, retry_after: float | None) -> None:
        """Back off exponentially (with jitter), or give up once the attempts are spent."""
        if item.attempts >= self._settings.max_attempts:
            await self.failed(item, f"gave up after {item.attempts} attempts: {reason}")
            return
        backoff = min(
            self._settings.retry_max_seconds,
            self._settings.retry_base_seconds * 2 ** (item.attempts - 1),
        )
        delay = max(retry_after or 0.0, backoff * random.uniform(0.8, 1.2))  # noqa: S311
        await self._finish(
            item,
            available_at=self._clock.now() + timedelta(seconds=delay),
            claimed_until=None,
            last_error=reason[:MAX_ERROR_LENGTH],
        )

    async def _finish(self, item: OutboxItem, **values: Any) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == item.id, OutboxMessage.delivered_at.is_(None))
                .values(**values)
            )
