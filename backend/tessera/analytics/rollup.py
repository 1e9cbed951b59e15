"""Keeping the rollups: the worker folds the events after the watermark into them, a batch at a
time, and readers add the events the rollups do not hold yet (see ``read``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.analytics.fold import (
    Address,
    Hours,
    Tallies,
    Tally,
    Target,
    TypeFigures,
    fold,
    fold_hours,
    merge,
    merge_hours,
)
from tessera.analytics.models import ALL_CAMPAIGNS, AnalyticsLatency, AnalyticsState, AnalyticsTotal
from tessera.analytics.sketch import pack, unpack
from tessera.clock import Clock
from tessera.events.models import Event

log = structlog.get_logger("tessera.analytics")

STATE_ID = 1
# Every figure the rollups hold: per campaign by channel, medium and store; for all campaigns
# by the same three and by campaign.
ROLLED_UP: tuple[Target, ...] = (
    ("campaign", "channel"),
    ("campaign", "medium"),
    ("campaign", "store"),
    ("all", "channel"),
    ("all", "medium"),
    ("all", "store"),
    ("all", "campaign"),
)
# Per campaign, the figures of each UTC hour are kept too (``analytics_totals`` rows of this
# dimension, keyed by the hour), for the daily series.
HOUR = "hour"
_IN_LIST = 500  # campaign ids per IN list
_HOUR_KEY = "%Y-%m-%dT%H:00Z"


async def _transaction_horizon(session: AsyncSession) -> tuple[int, int]:
    """PostgreSQL's (oldest running, next) transaction ids; ids are assigned in commit order
    on SQLite (one writer at a time), so it needs no horizon."""
    if session.get_bind().dialect.name != "postgresql":
        return 0, 0
    row = (
        await session.execute(
            text(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
                "pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
            )
        )
    ).one()
    return int(row[0]), int(row[1])


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    """An INSERT of the session's dialect (both have ``on_conflict_do_update``)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


class Rollup:
    """``run`` is a worker job; several processes may run it at once (one of them wins each
    batch, through the conditional move of the watermark)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        readers: async_sessionmaker[AsyncSession] | None = None,
        settle_seconds: float = 1.0,
        batch_events: int = 200_000,
        batches_per_run: int = 100,
    ) -> None:
        self._sessions = sessions
        self._readers = readers or sessions
        self._clock = clock
        self._settle = timedelta(seconds=settle_seconds)
        self._batch = batch_events
        self._batches_per_run = batches_per_run

    async def run(self) -> int:
        """Roll up what was written before the run: full batches while there is a backlog, then
        the last part of it. Events written meanwhile wait for the next run (readers count them
        anyway); chasing them would keep a busy server in a loop of tiny write transactions.
        The number of event ids moved past."""
        moved = 0
        for _ in range(self._batches_per_run):
            step, new_candidate = await self.run_once()
            moved += step
            backlog = step == self._batch
            just_chosen = step == 0 and new_candidate  # may be ready at once (SQLite)
            if not (backlog or just_chosen):
                break
        return moved

    async def run_once(self) -> tuple[int, bool]:
        """One batch: (event ids moved past, whether a new candidate was set). The batch is
        folded in a read-only session, so the write lock (on SQLite, the whole database's) is
        held only to move the watermark and add the figures."""
        async with self._readers() as session:
            state = await session.get(AnalyticsState, STATE_ID)
            now = self._clock.now()
            oldest_running, _ = await _transaction_horizon(session)
            ready = state is not None and (
                state.candidate_id > state.rolled_up_to
                and oldest_running >= state.candidate_xid
                and now - state.candidate_at >= self._settle
            )
            folded: tuple[int, int, Tallies, Hours] | None = None
            if state is not None and ready:
                low, high = state.rolled_up_to, min(state.candidate_id, state.rolled_up_to + self._batch)
                batch = [Event.id > low, Event.id <= high]
                folded = (
                    low,
                    high,
                    await fold(session, batch, ROLLED_UP),
                    await fold_hours(session, batch, per_campaign=True),
                )
        async with self._sessions.begin() as session:
            if state is None:  # created by the migration; recreated if the table was emptied
                await session.execute(
                    _insert(session, AnalyticsState)
                    .values(id=STATE_ID, rolled_up_to=0, candidate_id=0, candidate_xid=0, candidate_at=now)
                    .on_conflict_do_nothing()
                )
                return 0, True
            if folded is None:
                if state.candidate_id <= state.rolled_up_to:
                    return 0, await self._new_candidate(session, state.rolled_up_to)
                return 0, False
            low, high, tallies, hours = folded
            claimed = await session.execute(
                update(AnalyticsState)
                .where(AnalyticsState.id == STATE_ID, AnalyticsState.rolled_up_to == low)
                .values(rolled_up_to=high)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return 0, False  # another process rolled this batch up
            await self._add(session, tallies, hours)
            new_candidate = high == state.candidate_id and await self._new_candidate(session, high)
            log.debug("events rolled up", after=low, up_to=high, keys=len(tallies))
            return high - low, new_candidate

    async def _new_candidate(self, session: AsyncSession, rolled_up_to: int) -> bool:
        highest = await session.scalar(select(func.max(Event.id)))
        if highest is None or highest <= rolled_up_to:
            return False
        _, next_xid = await _transaction_horizon(session)
        await session.execute(
            update(AnalyticsState)
            .where(AnalyticsState.id == STATE_ID)
            .values(candidate_id=highest, candidate_xid=next_xid, candidate_at=self._clock.now())
        )
        return True

    async def _add(self, session: AsyncSession, tallies: Tallies, hours: Hours) -> None:
        totals = [
            {"scope": scope, "dimension": dimension, "key": key, "type": type_, **_figures(figures)}
            for (scope, dimension, key), tally in tallies.items()
            for type_, figures in tally.types.items()
        ]
        totals.extend(
            {"scope": scope, "dimension": HOUR, "key": f"{at:{_HOUR_KEY}}", "type": kind, **_figures(figures)}
            for (scope, at, kind), figures in hours.items()
        )
        if totals:
            insert = _insert(session, AnalyticsTotal)
            excluded = insert.excluded
            table = AnalyticsTotal.__table__.c
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=["scope", "dimension", "key", "type"],
                    set_={
                        name: table[name] + excluded[name]
                        for name in ("events", "quantity", "firsts", "amount", "discount")
                    },
                ),
                totals,
            )
        await self._add_latency(session, tallies)

    async def _add_latency(self, session: AsyncSession, tallies: Tallies) -> None:
        """Adds the batch's buckets to the stored histograms. Read, added and written back: safe,
        as no other process writes rollups while this one holds the watermark it moved."""
        changed = {
            address: tally.latency for address, tally in tallies.items() if any(tally.latency.values())
        }
        if not changed:
            return
        scopes = sorted({scope for scope, _, _ in changed})
        stored: dict[Address, dict[int, int]] = {}
        table = AnalyticsLatency.__table__.c
        for start in range(0, len(scopes), _IN_LIST):
            rows = select(table.scope, table.dimension, table.key, table.buckets).where(
                table.scope.in_(scopes[start : start + _IN_LIST])
            )
            for scope, dimension, key, buckets in await session.execute(rows):
                if (scope, dimension, key) in changed:
                    stored[(scope, dimension, key)] = unpack(buckets)
        histograms = []
        for (scope, dimension, key), added in changed.items():
            histogram = Counter(stored.get((scope, dimension, key), {}))
            histogram.update(added)
            address = {"scope": scope, "dimension": dimension, "key": key}
            histograms.append({**address, "buckets": pack(histogram)})
        insert = _insert(session, AnalyticsLatency)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["scope", "dimension", "key"], set_={"buckets": insert.excluded.buckets}
            ),
            histograms,
        )


def _figures(figures: TypeFigures) -> dict[str, int]:
    return {
        "events": figures.events,
        "quantity": figures.quantity,
        "firsts": figures.firsts,
        "amount": figures.amount,
        "discount": figures.discount,
    }


async def _newer_events(session: AsyncSession, scope: int) -> list[ColumnElement[bool]] | None:
    """Conditions for the events of ``scope`` after the watermark, None when there are none. The
    session must read one snapshot (see ``consistent_reads``) so that the watermark and the
    rollups agree."""
    newest_event = select(func.max(Event.id)).scalar_subquery()
    positions = select(AnalyticsState.rolled_up_to, newest_event).where(AnalyticsState.id == STATE_ID)
    row = (await session.execute(positions)).one_or_none()
    if row is None:  # no state row yet: nothing is rolled up
        watermark, newest = 0, await session.scalar(select(func.max(Event.id)))
    else:
        watermark, newest = row
    if newest is None or newest <= watermark:
        return None
    # Found by id: a campaign index would read the campaign's whole history (``+ 0`` keeps the
    # planners off it).
    newer = [Event.id > watermark, Event.id <= newest]
    if scope != ALL_CAMPAIGNS:
        newer.append(Event.campaign_id + 0 == scope)
    return newer


async def events_behind(session: AsyncSession) -> int:
    """How many event ids the rollups have not reached yet (reads add those events themselves;
    a growing figure means the job is not keeping up)."""
    newest_event = select(func.max(Event.id)).scalar_subquery()
    watermark = select(AnalyticsState.rolled_up_to).where(AnalyticsState.id == STATE_ID).scalar_subquery()
    behind = await session.scalar(select(func.coalesce(newest_event, 0) - func.coalesce(watermark, 0)))
    return max(int(behind or 0), 0)


async def read(session: AsyncSession, scope: int, target: Target) -> Tallies:
    """All-time figures of ``target`` in ``scope``: the rollups plus the events after them."""
    _, dimension = target
    tallies: Tallies = {}

    def tally_of(address: Address) -> Tally:
        return tallies.setdefault(address, Tally())

    totals = select(
        AnalyticsTotal.key,
        AnalyticsTotal.type,
        AnalyticsTotal.events,
        AnalyticsTotal.quantity,
        AnalyticsTotal.firsts,
        AnalyticsTotal.amount,
        AnalyticsTotal.discount,
    ).where(AnalyticsTotal.scope == scope, AnalyticsTotal.dimension == dimension)
    for key, type_, *figures in await session.execute(totals):
        tally_of((scope, dimension, key)).types[type_].add(TypeFigures(*figures))
    latency = select(AnalyticsLatency.key, AnalyticsLatency.buckets).where(
        AnalyticsLatency.scope == scope, AnalyticsLatency.dimension == dimension
    )
    for key, buckets in await session.execute(latency):
        tally_of((scope, dimension, key)).latency.update(unpack(buckets))
    newer = await _newer_events(session, scope)
    if newer is None:
        return tallies
    return merge(tallies, await fold(session, newer, [target]))


async def read_hours(session: AsyncSession, campaign_id: int, types: Sequence[str]) -> Hours:
    """All-time figures of one campaign per UTC hour, for event ``types``: the rollups plus the
    events after them."""
    total = AnalyticsTotal.__table__.c
    rows = select(total.key, total.type, total.events, total.quantity, total.amount).where(
        AnalyticsTotal.scope == campaign_id,
        AnalyticsTotal.dimension == HOUR,
        AnalyticsTotal.type.in_(types),
    )
    hours: Hours = {}
    for key, type_, events, quantity, amount in await session.execute(rows):
        hour = datetime.strptime(key, _HOUR_KEY).replace(tzinfo=UTC)
        hours[(campaign_id, hour, type_)] = TypeFigures(events, quantity, 0, amount, 0)
    newer = await _newer_events(session, campaign_id)
    if newer is None:
        return hours
    return merge_hours(hours, await fold_hours(session, [*newer, Event.type.in_(types)], per_campaign=True))


async def consistent_reads(session: AsyncSession) -> None:
    """Make every statement of ``session`` read the same snapshot (SQLite's reader sessions do
    already: one deferred transaction)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
