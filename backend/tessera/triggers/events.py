"""Event-driven triggers: the worker follows the event log from a cursor and issues the coupons
that registrations (``on_registration``) and redemptions (``on_redemption``) call for.

A batch of events is handled in one transaction that first moves the cursor past it with a
conditional update, so a crash before the commit leaves the batch to the next run and a commit
hands it over whole: no issue is lost or repeated. Of several processes, the one that moves the
cursor does the batch; the others find it moved (PostgreSQL makes them wait for the row, then
re-check) and drop theirs. The coupons' unique index stays the last guard.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final, NamedTuple

from sqlalchemy import TextClause, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.core.db.base import UTCDateTime, sqlite_time
from tessera.core.db.sqlite_worker import SqliteWorker, immediate_transaction
from tessera.events.horizon import candidate_xid, oldest_running_here
from tessera.models.campaigns import Campaign
from tessera.models.events import Event
from tessera.models.triggers import EventCursor
from tessera.triggers.issuing import issue_triggered
from tessera.triggers.rules import EVENT_KINDS, ON_REGISTRATION, fires_for_event

CURSOR: Final = "triggers"
FOLLOWED: Final = ("registered", "redeemed")
# Plain SQL that both stores speak (on SQLite it runs with stdlib ``sqlite3``).
_CHOOSE = text(
    "UPDATE event_cursors SET candidate_id = :highest, candidate_xid = :xid, candidate_at = :at "
    "WHERE name = :name AND position = :position AND candidate_id = :candidate"
).bindparams(bindparam("at", type_=UTCDateTime()))
_CLAIM = text("UPDATE event_cursors SET position = :high WHERE name = :name AND position = :low")
# A redemption is the customer's activity (``inactive_for`` counts from the last one).
_NOTE_ACTIVITY = text(
    "UPDATE customers SET last_active_at = :at "
    "WHERE id = :id AND (last_active_at IS NULL OR last_active_at < :at)"
).bindparams(bindparam("at", type_=UTCDateTime()))


class EventTriggers:
    """A frequent worker job; any number of processes may run it at once."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        clock: Clock,
        keys: CodeKeys,
        *,
        sqlite_writer: SqliteWorker | None = None,
        settle_seconds: float = 1.0,
        batch_events: int = 10_000,
        batches_per_run: int = 50,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._clock = clock
        self._keys = keys
        self._sqlite_writer = sqlite_writer
        self._settle = timedelta(seconds=settle_seconds)
        self._batch = batch_events
        self._batches_per_run = batches_per_run

    async def run(self) -> int:
        """Handle what was written before the run, in batches; events written meanwhile wait for
        the next run. The number of event ids moved past."""
        moved = 0
        for _ in range(self._batches_per_run):
            step, more = await self.run_once()
            moved += step
            if not more:
                break
        return moved

    async def run_once(self) -> tuple[int, bool]:
        """One step (a new candidate, or one batch): event ids moved past, and whether another
        step may find work at once. Everything is read before the write, which is one short
        transaction — on SQLite on the hot-path writer thread, unless coupons are to be issued —
        so SQLite's write lock is not held across trips through a busy event loop (redemptions
        wait for it)."""
        now = self._clock.now()
        async with self._readers() as session:
            state = await session.get(EventCursor, CURSOR)
            highest = await session.scalar(select(func.max(Event.id)))
            oldest_running = await oldest_running_here(session)
            if state is None or state.candidate_id <= state.position:
                seen: list[_Seen] = []
                campaigns: list[Campaign] = []
            else:
                low, high = state.position, min(state.candidate_id, state.position + self._batch)
                seen = await _seen_between(session, low, high)
                campaigns = await _event_campaigns(session, now) if seen else []
        if state is None:  # made by the migration; made again if the table was emptied
            await self._create_cursor(now)
            return 0, True
        if state.candidate_id <= state.position:
            if highest is None or highest <= state.position:
                return 0, False
            chosen = await self._write(
                _CHOOSE,
                {
                    "name": CURSOR,
                    "position": state.position,
                    "candidate": state.candidate_id,
                    "highest": highest,
                    "xid": 0,  # on PostgreSQL the choosing transaction's own id (see _write)
                    "at": now,
                },
                [],
                notes_candidate=True,
            )
            return 0, chosen
        if oldest_running < state.candidate_xid or now - state.candidate_at < self._settle:
            return 0, False  # transactions that may still add ids up to the candidate are running
        claim = {"name": CURSOR, "low": low, "high": high}
        activity = _latest_activity(seen)
        fired = [(campaign, ids) for campaign in campaigns if (ids := _fired(campaign, seen))]
        if fired:
            async with self._sessions.begin() as session:
                if not _changed(await session.execute(_CLAIM, claim)):
                    return 0, False  # another process handled this batch
                if activity:
                    await session.execute(_NOTE_ACTIVITY, activity)
                for campaign, customer_ids in fired:
                    await issue_triggered(session, self._keys, campaign, customer_ids, now)
        elif not await self._write(_CLAIM, claim, activity):
            return 0, False
        return high - low, high < state.candidate_id

    async def _write(
        self,
        first: TextClause,
        values: dict[str, Any],
        activity: list[dict[str, Any]],
        *,
        notes_candidate: bool = False,
    ) -> bool:
        """``first`` (a conditional update of the cursor) and, if it changed the cursor, the
        activity notes, in one transaction; whether ``first`` changed it. ``notes_candidate``:
        ``first`` notes a candidate read before this transaction, with its ``xid``
        (``tessera.events.horizon``)."""
        if self._sqlite_writer is not None:
            return await self._sqlite_writer.run(
                partial(_write_on_sqlite, first=str(first), values=values, activity=activity),
                background=True,
            )
        async with self._sessions.begin() as session:
            if notes_candidate:
                values = {**values, "xid": await candidate_xid(session)}
            if not _changed(await session.execute(first, values)):
                return False
            if activity:
                await session.execute(_NOTE_ACTIVITY, activity)
            return True

    async def _create_cursor(self, now: datetime) -> None:
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            await session.execute(
                insert(EventCursor)
                .values(name=CURSOR, position=0, candidate_id=0, candidate_xid=0, candidate_at=now)
                .on_conflict_do_nothing()
            )


async def _seen_between(session: AsyncSession, low: int, high: int) -> list[_Seen]:
    found = await session.execute(
        select(Event.type, Event.occurred_at, Event.campaign_id, Event.customer_id).where(
            Event.id > low,
            Event.id <= high,
            Event.type.in_(FOLLOWED),
            Event.customer_id.is_not(None),
        )
    )
    return [
        _Seen(type_, at, campaign_id, customer_id)
        for type_, at, campaign_id, customer_id in found.all()
        if customer_id is not None
    ]


async def _event_campaigns(session: AsyncSession, now: datetime) -> list[Campaign]:
    """Running, switched-on campaigns that registrations or redemptions trigger."""
    campaigns = await session.scalars(
        select(Campaign)
        .where(
            Campaign.trigger_kind.in_(EVENT_KINDS),
            Campaign.published_at.is_not(None),
            Campaign.starts_at <= now,
            Campaign.ends_at > now,
        )
        .order_by(Campaign.id)
    )
    return list(campaigns.all())


def _fired(campaign: Campaign, seen: Sequence[_Seen]) -> list[int]:
    """The customers whose events in ``seen`` fire ``campaign``'s trigger."""
    if campaign.trigger_kind == ON_REGISTRATION:
        return [e.customer_id for e in seen if e.type == "registered" and fires_for_event(campaign, e.at)]
    return [
        e.customer_id
        for e in seen
        if e.type == "redeemed"
        and e.campaign_id == campaign.trigger_campaign_id
        and fires_for_event(campaign, e.at)
    ]


class _Seen(NamedTuple):
    """An event of a customer that may fire a trigger."""

    type: str
    at: datetime
    campaign_id: int | None
    customer_id: int


def _latest_activity(seen: Sequence[_Seen]) -> list[dict[str, Any]]:
    """Each customer's latest redemption in ``seen``, in id order (so that concurrent writers
    lock customers in one order)."""
    latest: dict[int, datetime] = {}
    for event in seen:
        if event.type == "redeemed" and latest.get(event.customer_id, event.at) <= event.at:
            latest[event.customer_id] = event.at
    return [{"id": customer, "at": at} for customer, at in sorted(latest.items())]


def _write_on_sqlite(
    connection: sqlite3.Connection, *, first: str, values: dict[str, Any], activity: list[dict[str, Any]]
) -> bool:
    """``EventTriggers._write`` as one short transaction on the hot-path thread."""
    with immediate_transaction(connection):
        if connection.execute(first, _sqlite_values(values)).rowcount != 1:
            return False
        if activity:
            connection.executemany(str(_NOTE_ACTIVITY), [_sqlite_values(row) for row in activity])
        return True


def _sqlite_values(values: dict[str, Any]) -> dict[str, Any]:
    return {name: sqlite_time(v) if isinstance(v, datetime) else v for name, v in values.items()}


def _changed(result: Any) -> bool:
    return int(result.rowcount) == 1
