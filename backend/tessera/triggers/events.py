"""Event-driven triggers: the worker follows the event log from a cursor and issues the coupons
that registrations (``on_registration``) and redemptions (``on_redemption``) call for.

A batch of events is handled in one transaction that first moves the cursor past it with a
conditional update, so a crash before the commit leaves the batch to the next run and a commit
hands it over whole: no issue is lost or repeated. Of several processes, the one that moves the
cursor does the batch; the others find it moved (PostgreSQL makes them wait for the row, then
re-check) and drop theirs. The coupons' unique index stays the last guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.analytics.rollup import transaction_horizon
from tessera.campaigns.models import Campaign
from tessera.clock import Clock
from tessera.codes.keys import CodeKeys
from tessera.db.base import UTCDateTime
from tessera.events.models import Event
from tessera.triggers.issuing import issue_triggered
from tessera.triggers.models import EventCursor
from tessera.triggers.rules import EVENT_KINDS, ON_REGISTRATION, fires_for_event

CURSOR: Final = "triggers"
FOLLOWED: Final = ("registered", "redeemed")
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
        settle_seconds: float = 1.0,
        batch_events: int = 10_000,
        batches_per_run: int = 50,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._clock = clock
        self._keys = keys
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
        step may find work at once."""
        async with self._readers() as session:
            state = await session.get(EventCursor, CURSOR)
            highest = await session.scalar(select(func.max(Event.id)))
            # Read after the newest id: a transaction that could still add an id up to it is
            # older than ``next_xid``.
            oldest_running, next_xid = await transaction_horizon(session)
        now = self._clock.now()
        if state is None:  # made by the migration; made again if the table was emptied
            await self._create_cursor(now)
            return 0, True
        if state.candidate_id <= state.position:
            if highest is None or highest <= state.position:
                return 0, False
            async with self._sessions.begin() as session:
                chosen = await session.execute(
                    update(EventCursor)
                    .where(
                        EventCursor.name == CURSOR,
                        EventCursor.position == state.position,
                        EventCursor.candidate_id == state.candidate_id,
                    )
                    .values(candidate_id=highest, candidate_xid=next_xid, candidate_at=now)
                )
            return 0, _changed(chosen)
        if oldest_running < state.candidate_xid or now - state.candidate_at < self._settle:
            return 0, False  # transactions that may still add ids up to the candidate are running
        low, high = state.position, min(state.candidate_id, state.position + self._batch)
        async with self._sessions.begin() as session:
            claimed = await session.execute(
                update(EventCursor)
                .where(EventCursor.name == CURSOR, EventCursor.position == low)
                .values(position=high)
            )
            if not _changed(claimed):
                return 0, False  # another process handled this batch
            await self._handle(session, low, high, now)
        return high - low, high < state.candidate_id

    async def _create_cursor(self, now: datetime) -> None:
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            await session.execute(
                insert(EventCursor)
                .values(name=CURSOR, position=0, candidate_id=0, candidate_xid=0, candidate_at=now)
                .on_conflict_do_nothing()
            )

    async def _handle(self, session: AsyncSession, low: int, high: int, now: datetime) -> None:
        found = await session.execute(
            select(Event.type, Event.occurred_at, Event.campaign_id, Event.customer_id).where(
                Event.id > low,
                Event.id <= high,
                Event.type.in_(FOLLOWED),
                Event.customer_id.is_not(None),
            )
        )
        seen = [
            _Seen(type_, at, campaign_id, customer_id)
            for type_, at, campaign_id, customer_id in found.all()
            if customer_id is not None
        ]
        if not seen:
            return
        await _note_activity(session, seen)
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
        for campaign in campaigns.all():
            if campaign.trigger_kind == ON_REGISTRATION:
                fired = [
                    e.customer_id for e in seen if e.type == "registered" and fires_for_event(campaign, e.at)
                ]
            else:
                fired = [
                    e.customer_id
                    for e in seen
                    if e.type == "redeemed"
                    and e.campaign_id == campaign.trigger_campaign_id
                    and fires_for_event(campaign, e.at)
                ]
            if fired:
                await issue_triggered(session, self._keys, campaign, fired, now)


class _Seen(NamedTuple):
    """An event of a customer that may fire a trigger."""

    type: str
    at: datetime
    campaign_id: int | None
    customer_id: int


async def _note_activity(session: AsyncSession, seen: Sequence[_Seen]) -> None:
    latest: dict[int, datetime] = {}
    for event in seen:
        if event.type == "redeemed" and latest.get(event.customer_id, event.at) <= event.at:
            latest[event.customer_id] = event.at
    if latest:
        # In id order, so that concurrent writers lock customers in one order.
        await session.execute(_NOTE_ACTIVITY, [{"id": c, "at": at} for c, at in sorted(latest.items())])


def _changed(result: Any) -> bool:
    return int(result.rowcount) == 1
