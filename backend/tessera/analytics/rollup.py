"""Keeping the rollups: the worker folds the events after the watermark into them, a batch at a
time, and readers add the events the rollups do not hold yet (see ``read``)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
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
from tessera.analytics.sketch import pack, unpack
from tessera.core.clock import Clock
from tessera.core.db.base import sqlite_time
from tessera.core.db.sqlite_worker import SqliteWorker, immediate_transaction
from tessera.events.horizon import candidate_xid, oldest_running_here
from tessera.models.analytics import ALL_CAMPAIGNS, AnalyticsLatency, AnalyticsState, AnalyticsTotal
from tessera.models.events import Event

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
        sqlite_writer: SqliteWorker | None = None,
        settle_seconds: float = 1.0,
        batch_events: int = 200_000,
        batches_per_run: int = 100,
    ) -> None:
        self._sessions = sessions
        self._readers = readers or sessions
        self._sqlite_writer = sqlite_writer
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
        folded, and the histograms it adds to are read, in a read-only session, so the write
        lock (on SQLite, the whole database's) is held only to move the watermark and write the
        figures — on SQLite by the hot-path thread, in one go, with no hop through the event
        loop while the lock is held (redemptions wait for it)."""
        async with self._readers() as session:
            state = await session.get(AnalyticsState, STATE_ID)
            now = self._clock.now()
            oldest_running = await oldest_running_here(session)
            ready = state is not None and (
                state.candidate_id > state.rolled_up_to
                and oldest_running >= state.candidate_xid
                and now - state.candidate_at >= self._settle
            )
            batch: _Batch | None = None
            if state is not None and ready:
                low, high = state.rolled_up_to, min(state.candidate_id, state.rolled_up_to + self._batch)
                where = [Event.id > low, Event.id <= high]
                tallies = await fold(session, where, ROLLED_UP)
                hours = await fold_hours(session, where, per_campaign=True)
                stored = await _stored_latency(session, tallies)
                batch = _Batch(low, high, _total_rows(tallies, hours), _histogram_rows(tallies, stored))
        if state is None:  # created by the migration; recreated if the table was emptied
            async with self._sessions.begin() as session:
                await session.execute(
                    _insert(session, AnalyticsState)
                    .values(id=STATE_ID, rolled_up_to=0, candidate_id=0, candidate_xid=0, candidate_at=now)
                    .on_conflict_do_nothing()
                )
            return 0, True
        if batch is None and state.candidate_id > state.rolled_up_to:
            return 0, False  # the candidate is not settled yet
        if self._sqlite_writer is not None:
            return await self._sqlite_writer.run(
                partial(
                    _write_on_sqlite,
                    batch=batch,
                    after=state.rolled_up_to,
                    candidate=state.candidate_id,
                    now=now,
                ),
                background=True,
            )
        async with self._sessions.begin() as session:
            if batch is None:
                return 0, await self._new_candidate(session, state.rolled_up_to)
            claimed = await session.execute(text(_CLAIM), batch.claim())
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return 0, False  # another process rolled this batch up
            if batch.totals:
                await session.execute(text(_ADD_TOTALS), batch.totals)
            if batch.histograms:
                await session.execute(text(_PUT_HISTOGRAM), batch.histograms)
            new_candidate = batch.high == state.candidate_id and await self._new_candidate(
                session, batch.high
            )
            log.debug("events rolled up", after=batch.low, up_to=batch.high, keys=len(batch.totals))
            return batch.high - batch.low, new_candidate

    async def _new_candidate(self, session: AsyncSession, rolled_up_to: int) -> bool:
        highest = await session.scalar(select(func.max(Event.id)))
        if highest is None or highest <= rolled_up_to:
            return False
        # Taken after the newest id was read (see tessera.events.horizon).
        xid = await candidate_xid(session)
        await session.execute(
            update(AnalyticsState)
            .where(AnalyticsState.id == STATE_ID)
            .values(candidate_id=highest, candidate_xid=xid, candidate_at=self._clock.now())
        )
        return True


# Plain SQL that both stores speak (the SQLite path runs it with stdlib ``sqlite3``).
_CLAIM = "UPDATE analytics_state SET rolled_up_to = :high WHERE id = :id AND rolled_up_to = :low"
_ADD_TOTALS = """
INSERT INTO analytics_totals (scope, dimension, key, type, events, quantity, firsts, amount, discount)
VALUES (:scope, :dimension, :key, :type, :events, :quantity, :firsts, :amount, :discount)
ON CONFLICT (scope, dimension, key, type) DO UPDATE SET
    events = analytics_totals.events + excluded.events,
    quantity = analytics_totals.quantity + excluded.quantity,
    firsts = analytics_totals.firsts + excluded.firsts,
    amount = analytics_totals.amount + excluded.amount,
    discount = analytics_totals.discount + excluded.discount
"""
_PUT_HISTOGRAM = """
INSERT INTO analytics_latency (scope, dimension, key, buckets) VALUES (:scope, :dimension, :key, :buckets)
ON CONFLICT (scope, dimension, key) DO UPDATE SET buckets = excluded.buckets
"""
# SQLite assigns event ids in commit order, so the candidate needs no transaction horizon.
_SQLITE_NEW_CANDIDATE = (
    "UPDATE analytics_state SET candidate_id = (SELECT max(id) FROM events), candidate_at = :at "
    "WHERE id = :id AND (SELECT max(id) FROM events) > :after"
)


@dataclass(frozen=True, slots=True)
class _Batch:
    """What one batch writes: the watermark's move and the rows added to the rollups."""

    low: int
    high: int
    totals: list[dict[str, Any]]
    histograms: list[dict[str, Any]]

    def claim(self) -> dict[str, int]:
        return {"id": STATE_ID, "low": self.low, "high": self.high}


def _write_on_sqlite(
    connection: sqlite3.Connection, *, batch: _Batch | None, after: int, candidate: int, now: datetime
) -> tuple[int, bool]:
    """The write half of ``Rollup.run_once`` as one short transaction on the hot-path thread."""
    new_candidate = {"id": STATE_ID, "at": sqlite_time(now)}
    with immediate_transaction(connection):
        if batch is None:
            return 0, connection.execute(
                _SQLITE_NEW_CANDIDATE, {**new_candidate, "after": after}
            ).rowcount == 1
        if connection.execute(_CLAIM, batch.claim()).rowcount != 1:
            return 0, False
        connection.executemany(_ADD_TOTALS, batch.totals)
        connection.executemany(_PUT_HISTOGRAM, batch.histograms)
        moved = batch.high == candidate and (
            connection.execute(_SQLITE_NEW_CANDIDATE, {**new_candidate, "after": batch.high}).rowcount == 1
        )
    return batch.high - batch.low, moved


def _total_rows(tallies: Tallies, hours: Hours) -> list[dict[str, Any]]:
    rows = [
        {"scope": scope, "dimension": dimension, "key": key, "type": type_, **_figures(figures)}
        for (scope, dimension, key), tally in tallies.items()
        for type_, figures in tally.types.items()
    ]
    rows.extend(
        {"scope": scope, "dimension": HOUR, "key": f"{at:{_HOUR_KEY}}", "type": kind, **_figures(figures)}
        for (scope, at, kind), figures in hours.items()
    )
    return rows


async def _stored_latency(session: AsyncSession, tallies: Tallies) -> dict[Address, dict[int, int]]:
    """The stored histograms the batch adds to. Read before the watermark moves: only the
    process that moves it past this batch writes them, and the batch before committed its
    histograms with its own move."""
    changed = {address for address, tally in tallies.items() if any(tally.latency.values())}
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
    return stored


def _histogram_rows(tallies: Tallies, stored: dict[Address, dict[int, int]]) -> list[dict[str, Any]]:
    rows = []
    for address, tally in tallies.items():
        if not any(tally.latency.values()):
            continue
        histogram = Counter(stored.get(address, {}))
        histogram.update(tally.latency)
        scope, dimension, key = address
        rows.append({"scope": scope, "dimension": dimension, "key": key, "buckets": pack(histogram)})
    return rows


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
        hour = datetime.fromisoformat(key)  # ``_HOUR_KEY``'s form; strptime took most of the read
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
