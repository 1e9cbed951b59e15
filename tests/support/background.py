"""The background worker of one "process", driven by hand: its own context (engines, pools) on the
test's database, as a separate ``tessera worker`` process has. A new one is a restarted worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from tessera.assembly.context import open_context
from tessera.assembly.services import build_services
from tessera.core.clock import FrozenClock
from tessera.core.settings import Settings
from tessera.http.context import AppContext
from tessera.models.events import Event
from tessera.models.triggers import EventCursor
from tessera.outbox.worker import OutboxWorker
from tessera.triggers.events import CURSOR
from tessera.worker import worker_for

# On PostgreSQL the event log is followed a second behind the transactions that were running.
SETTLE = timedelta(seconds=2)


@dataclass
class Background:
    ctx: AppContext
    worker: OutboxWorker
    clock: FrozenClock

    async def run(self) -> None:
        """Every periodic job, until the event triggers have read the log as it was when the
        run began, then every due outbox row (pushes)."""
        newest = await self.newest_event()
        await self.worker.run_jobs()
        self.clock.advance(SETTLE)
        await until(lambda: self.followed_to(newest), self.worker.run_jobs)
        while await self.worker.run_once():
            pass

    async def newest_event(self) -> int:
        async with self.ctx.readers() as session:
            return await session.scalar(select(func.max(Event.id))) or 0

    async def followed_to(self, event_id: int) -> bool:
        """Whether the event triggers have handled every event up to ``event_id``."""
        async with self.ctx.readers() as session:
            cursor = await session.get(EventCursor, CURSOR)
        return cursor is not None and cursor.position >= event_id


async def until(done: Callable[[], Awaitable[bool]], step: Callable[[], Awaitable[object]]) -> None:
    """``step`` until ``done``. On PostgreSQL the event triggers wait for every transaction that
    was running when they saw the newest event, in any database of the server: another test run
    or benchmark on it may hold one for a while."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        await step()
        if await done():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the trigger worker did not catch up with the event log")


@asynccontextmanager
async def background(settings: Settings, clock: FrozenClock) -> AsyncIterator[Background]:
    async with open_context(settings, clock) as ctx:
        try:
            async with worker_for(ctx, build_services(ctx)) as worker:
                yield Background(ctx, worker, clock)
        finally:
            await ctx.bulk_codes.stop()


async def run_worker(settings: Settings, clock: FrozenClock, *, restarts: int = 0) -> None:
    """Run a fresh worker (then ``restarts`` more, each new, on the same database)."""
    for _ in range(restarts + 1):
        async with background(settings, clock) as work:
            await work.run()
