"""The background worker of one "process", driven by hand: its own context (engines, pools) on the
test's database, as a separate ``tessera worker`` process has. A new one is a restarted worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from tessera.clock import FrozenClock
from tessera.context import AppContext, open_context
from tessera.events.models import Event
from tessera.outbox.worker import OutboxWorker
from tessera.services import Services
from tessera.settings import Settings
from tessera.triggers.events import CURSOR
from tessera.triggers.models import EventCursor
from tessera.worker import worker_for

# On PostgreSQL the event log is followed a second behind the transactions that were running.
SETTLE = timedelta(seconds=2)


@dataclass
class Background:
    ctx: AppContext
    worker: OutboxWorker
    clock: FrozenClock

    async def run(self) -> None:
        """Every periodic job, until the event triggers have read the whole log (as it was),
        then every due outbox row (pushes)."""
        await self.worker.run_jobs()
        self.clock.advance(SETTLE)
        async with self.ctx.readers() as session:
            newest = await session.scalar(select(func.max(Event.id))) or 0
        for _ in range(400):
            await self.worker.run_jobs()
            async with self.ctx.readers() as session:
                cursor = await session.get(EventCursor, CURSOR)
            if cursor is not None and cursor.position >= newest:
                break
            # A transaction elsewhere on the PostgreSQL server is still running: the follower
            # waits for it (an event id it took may commit later).
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the trigger worker did not catch up with the event log")
        while await self.worker.run_once():
            pass


@asynccontextmanager
async def background(settings: Settings, clock: FrozenClock) -> AsyncIterator[Background]:
    async with open_context(settings, clock) as ctx:
        try:
            async with worker_for(ctx, Services.build(ctx)) as worker:
                yield Background(ctx, worker, clock)
        finally:
            await ctx.bulk_codes.stop()


async def run_worker(settings: Settings, clock: FrozenClock, *, restarts: int = 0) -> None:
    """Run a fresh worker (then ``restarts`` more, each new, on the same database)."""
    for _ in range(restarts + 1):
        async with background(settings, clock) as work:
            await work.run()
