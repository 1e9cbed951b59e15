"""The followers of the event log (rollups, triggers) on PostgreSQL: ids come from a sequence,
so a transaction still running may yet commit an id below the highest one visible. A follower
must wait for every such transaction of its database, and only for those: a long write in
another database of the same server must not hold it back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tessera.analytics.rollup import Rollup
from tessera.codes.keys import CodeKeys
from tessera.core.clock import FrozenClock
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import DatabaseSettings
from tessera.events.horizon import candidate_xid, oldest_running_here
from tessera.triggers.events import EventTriggers
from tests.support.postgres import PG_ADMIN, empty_postgres

# A transaction of another session that ends between the snapshot and the read of the activity
# view is counted as running (it can no longer be placed); a few tries ride that out.
TRIES = 20
_EVENT = "INSERT INTO events (occurred_at, type) VALUES (now(), 'registered') RETURNING id"


def _plain(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    await empty_postgres(postgres_url)
    engine = create_engine(DatabaseSettings(url=postgres_url))
    yield engine
    await engine.dispose()


async def _writing(url: str) -> tuple[asyncpg.Connection, int]:
    """A connection in a transaction that has a transaction id, and that id."""
    connection = await asyncpg.connect(url)
    await connection.execute("BEGIN")
    return connection, int(await connection.fetchval("SELECT pg_current_xact_id()::text"))


async def _oldest(engine: AsyncEngine) -> list[int]:
    async with session_factory(engine)() as session:
        seen = []
        for _ in range(TRIES):
            async with session.begin():
                seen.append(await oldest_running_here(session))
        return seen


async def test_only_this_databases_transactions_are_waited_for(
    postgres_url: str, engine: AsyncEngine
) -> None:
    elsewhere, other_xid = await _writing(PG_ADMIN)
    here, own_xid = await _writing(_plain(postgres_url))
    try:
        # As a follower notes a candidate: in a transaction that commits after both began.
        async with session_factory(engine).begin() as session:
            assert await candidate_xid(session) > own_xid
        seen = await _oldest(engine)
        assert all(oldest <= own_xid for oldest in seen), (own_xid, seen)
        # The other database's transaction started first and is still running.
        assert any(oldest > other_xid for oldest in seen), (other_xid, seen)
        await here.close()  # its transaction ends with it
        assert any(oldest > own_xid for oldest in await _oldest(engine))
    finally:
        await elsewhere.close()
        await here.close()


async def _rolled_up_to(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT rolled_up_to FROM analytics_state"))).scalar_one())


async def _trigger_position(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        found = await connection.execute(text("SELECT position FROM event_cursors WHERE name = 'triggers'"))
        return int(found.scalar_one())


async def test_an_id_below_the_candidate_held_by_a_later_transaction_is_waited_for(
    postgres_url: str, engine: AsyncEngine
) -> None:
    """``early`` gets its transaction id first, ``late`` second; ``late`` takes an event id,
    then ``early`` a higher one and commits. The highest visible id is then ``early``'s, and
    every transaction id below ``late``'s has finished: a follower must still wait for
    ``late``, which holds an id below its candidate."""
    clock = FrozenClock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    sessions = session_factory(engine)
    rollup = Rollup(sessions, clock, settle_seconds=0)
    triggers = EventTriggers(sessions, sessions, clock, CodeKeys("k" * 32), settle_seconds=0)
    await rollup.run()
    await triggers.run()
    early, _ = await _writing(_plain(postgres_url))
    late, _ = await _writing(_plain(postgres_url))
    try:
        held = int(await late.fetchval(_EVENT))
        committed = int(await early.fetchval(_EVENT))
        assert held < committed
        await early.execute("COMMIT")
        for _ in range(3):
            await rollup.run()
            await triggers.run()
        assert await _rolled_up_to(engine) < held
        assert await _trigger_position(engine) < held
        await late.execute("COMMIT")
        assert await rollup.run() > 0
        assert await triggers.run() > 0
        assert await _rolled_up_to(engine) == committed
        assert await _trigger_position(engine) == committed
    finally:
        await early.close()
        await late.close()
