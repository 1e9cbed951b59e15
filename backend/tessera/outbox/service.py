"""Claiming, completing and retrying outbox rows.

A claim is a lease: ``claimed_until`` hides the row from other workers while one delivers it,
and a worker that dies mid-delivery simply lets the lease run out. On PostgreSQL the claim skips
rows another worker is claiming at that moment (``FOR UPDATE SKIP LOCKED``), so any number of
workers can share the table; on SQLite the write lock serialises claims.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.core.clock import Clock
from tessera.core.settings import WorkerSettings
from tessera.events.log import record_many
from tessera.models.outbox import OutboxMessage

MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    topic: str
    target: str
    coupon_id: int | None
    payload: dict[str, Any] | None
    attempts: int
    # The lease this item was claimed with: the claim's token, so that a worker whose lease ran
    # out never undoes the claim of the worker that took the row over.
    claimed_until: datetime | None = None


class DeliveryFailed(Exception):
    """A delivery that did not happen. ``if_given_up`` are event rows the failure stands for
    should it end the delivery (e.g. ``message_failed``): written with the give-up, never for a
    failure that is tried again."""

    if_given_up: Sequence[dict[str, Any]] = ()

    def given_up_as(self, events: Sequence[dict[str, Any]]) -> Self:
        self.if_given_up = tuple(events)
        return self


class RetryLater(DeliveryFailed):
    """A temporary failure: deliver again after a backoff (or after ``retry_after`` seconds)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class GiveUp(DeliveryFailed):
    """A permanent failure: trying again cannot help; the reason is kept on the row."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one delivery: ``error`` is None when it was delivered. ``events`` are the
    event rows the delivery stands for (e.g. ``notified``), written with its completion; for a
    failure, the error's ``if_given_up`` rows are written if this failure gives the row up."""

    item: OutboxItem
    error: Exception | None = None
    events: Sequence[dict[str, Any]] = ()


def _pending(now: datetime) -> Any:
    return (
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.available_at <= now,
        (OutboxMessage.claimed_until.is_(None)) | (OutboxMessage.claimed_until <= now),
    )


def _still_claimed(item: OutboxItem) -> Any:
    """The row of ``item``, undelivered and still under the lease ``item`` was claimed with."""
    return (
        OutboxMessage.id == item.id,
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.claimed_until == item.claimed_until,
    )


async def delivered_with(session: AsyncSession, item: OutboxItem, now: datetime) -> bool:
    """Record ``item`` delivered in the caller's transaction, if the claim it was taken with still
    holds (False: another worker has it now). For a handler whose effect is rows of this database
    (more outbox rows): the effect and the delivery commit together, so a crash repeats neither."""
    done = await session.execute(
        update(OutboxMessage).where(*_still_claimed(item)).values(delivered_at=now, claimed_until=None)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def due_backlog(session: AsyncSession, now: datetime) -> tuple[int, datetime | None]:
    """How many messages are due and not yet delivered (nor given up), and since when the
    oldest of them has been due: how far the workers are behind."""
    due = select(func.count(), func.min(OutboxMessage.available_at)).where(
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.available_at <= now,
    )
    count, oldest = (await session.execute(due)).one()
    return int(count), oldest


class Outbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: WorkerSettings,
        *,
        skip_locked: bool,
        urgent_topics: frozenset[str] = frozenset(),
    ) -> None:
        """``urgent_topics``: messages a person is waiting for (a sign-in code, an SMS reply),
        claimed before everything else due, so a mail merge of 100,000 queued a moment earlier
        does not hold them back."""
        self._sessions = sessions
        self._readers = readers
        self._clock = clock
        self._settings = settings
        self._skip_locked = skip_locked
        self._urgent = sorted(urgent_topics)

    async def claim(self, limit: int) -> list[OutboxItem]:
        """Lease up to ``limit`` due rows to this worker: the urgent topics' first (found
        through their own index), then the oldest of the rest."""
        now = self._clock.now()
        # A read first: idle polling must not take SQLite's write lock.
        async with self._readers() as session:
            if not await session.scalar(select(exists().where(*_pending(now)))):
                return []
        async with self._sessions.begin() as session:
            items: list[OutboxItem] = []
            if self._urgent:
                items = await self._lease(session, now, limit, OutboxMessage.topic.in_(self._urgent))
            if len(items) < limit:
                items += await self._lease(session, now, limit - len(items))
        return sorted(items, key=lambda item: item.id)

    async def _lease(
        self, session: AsyncSession, now: datetime, limit: int, *where: ColumnElement[bool]
    ) -> list[OutboxItem]:
        due = select(OutboxMessage.id).where(*_pending(now), *where).order_by(OutboxMessage.id).limit(limit)
        if self._skip_locked:
            due = due.with_for_update(skip_locked=True)
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
                OutboxMessage.claimed_until,
            )
            .execution_options(synchronize_session=False)
        )
        return [OutboxItem(*row) for row in rows]

    async def complete(self, outcomes: Sequence[Outcome], unattempted: Sequence[OutboxItem] = ()) -> None:
        """Record what became of a batch in one transaction (one statement for the deliveries),
        and hand the ``unattempted`` items back: due at once, their claim's attempt not counted."""
        now = self._clock.now()
        delivered = [outcome.item.id for outcome in outcomes if outcome.error is None]
        events = [row for outcome in outcomes if outcome.error is None for row in outcome.events]
        async with self._sessions.begin() as session:
            await record_many(session, events)
            if delivered:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(delivered), OutboxMessage.delivered_at.is_(None))
                    .values(delivered_at=now, claimed_until=None)
                )
            for outcome in outcomes:
                if outcome.error is not None:
                    after = self._after_failure(outcome.item, outcome.error, now)
                    failed = await session.execute(
                        update(OutboxMessage).where(*_still_claimed(outcome.item)).values(**after)
                    )
                    # Only the worker that still holds the row records its end.
                    if "failed_at" in after and failed.rowcount:  # type: ignore[attr-defined]
                        await record_many(session, _given_up_events(outcome.error))
            for lease in {item.claimed_until for item in unattempted}:
                await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_(
                            [item.id for item in unattempted if item.claimed_until == lease]
                        ),
                        OutboxMessage.delivered_at.is_(None),
                        OutboxMessage.claimed_until == lease,
                    )
                    .values(claimed_until=None, attempts=OutboxMessage.attempts - 1)
                )

    def _after_failure(self, item: OutboxItem, error: Exception, now: datetime) -> dict[str, Any]:
        """Back off exponentially (with jitter), or give up once the attempts are spent."""
        reason = str(error)[:MAX_ERROR_LENGTH]
        if isinstance(error, GiveUp):
            return {"failed_at": now, "claimed_until": None, "last_error": reason}
        if item.attempts >= self._settings.max_attempts:
            return {
                "failed_at": now,
                "claimed_until": None,
                "last_error": f"gave up after {item.attempts} attempts: {reason}"[:MAX_ERROR_LENGTH],
            }
        backoff = min(
            self._settings.retry_max_seconds,
            self._settings.retry_base_seconds * 2 ** (item.attempts - 1),
        )
        retry_after = error.retry_after if isinstance(error, RetryLater) else None
        delay = max(retry_after or 0.0, backoff * random.uniform(0.8, 1.2))  # noqa: S311
        return {"available_at": now + timedelta(seconds=delay), "claimed_until": None, "last_error": reason}


def _given_up_events(error: Exception) -> Sequence[dict[str, Any]]:
    return error.if_given_up if isinstance(error, DeliveryFailed) else ()
