"""Writing one chunk of a publish job in one short transaction, on the raw connection of each
store (SQLite: the hot-path thread, as background work that commits early and steps aside
whenever a till's redemption waits, so a till waits for one slice at most; PostgreSQL: asyncpg).

A chunk takes its serials from the campaign's ``next_serial`` (computing its digests again in
the rare case another issuer moved it since they were computed), inserts the coupons of
customers who still consent (one per customer: the unique index), their ``issued`` events and
new-offer push outbox rows, and moves the job's cursor and counters on only if the cursor is
still where the chunk started. So a resumed or concurrent run never issues twice, and a crash
loses at most the uncommitted chunk.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

import asyncpg

from tessera.core.db.base import parse_sqlite_time, sqlite_time
from tessera.core.db.sqlite_worker import SqliteWorker, immediate_transaction
from tessera.offers.rules import IssueTerms, issue_refusal


@dataclass(frozen=True, slots=True)
class Chunk:
    job_id: int
    campaign_id: int
    after: int  # the job's cursor when the chunk's customers were read
    until: int  # the job's cursor once the chunk is written (its last customer read)
    customer_ids: Sequence[int]
    first_serial: int  # expected: the campaign's ``next_serial`` once the chunks before are written
    digests: Sequence[bytes]  # of the codes from ``first_serial``
    # ``(first, n)`` → the digests of ``n`` codes from serial ``first``: for when another issuer
    # (a registration) took serials since ``first_serial`` was expected.
    digests_for: Callable[[int, int], Sequence[bytes]]
    issued_at: datetime
    starts_at: datetime
    expires_at: datetime
    last: bool  # no customer is left after these: the job is done with this chunk


class Outcome(Enum):
    WRITTEN = "written"
    JOB_MOVED = "job_moved"  # another run wrote this chunk, or the job is finished
    # The campaign cannot issue now (it ended, or tills spent its redemptions while the job ran):
    # nothing written; the job reads the campaign again and stops with the reason.
    CAMPAIGN_CHANGED = "campaign_changed"


@dataclass(frozen=True, slots=True)
class Written:
    outcome: Outcome
    next_serial: int
    issued: int = 0
    seconds: float = 0.0  # how long the transaction held its locks


class PublishWriter(Protocol):
    async def write(self, chunk: Chunk) -> Written: ...

    async def fail(self, job_id: int, error: str, now: datetime) -> None:
        """End the job short, with the reason."""
        ...


class SqlitePublishWriter:
    def __init__(self, worker: SqliteWorker) -> None:
        self._worker = worker

    async def write(self, chunk: Chunk) -> Written:
        worker = self._worker
        return await worker.run(lambda connection: _sqlite_chunk(connection, chunk, worker), background=True)

    async def fail(self, job_id: int, error: str, now: datetime) -> None:
        def work(connection: sqlite3.Connection) -> None:
            stamp = sqlite_time(now)
            with immediate_transaction(connection):
                connection.execute(
                    "UPDATE publish_jobs SET error = ?, finished_at = ?, updated_at = ? "
                    "WHERE id = ? AND finished_at IS NULL",
                    (error, stamp, stamp, job_id),
                )

        await self._worker.run(work)


# What the offer rules ask to know whether the campaign can still issue (``issue_refusal``): the
# job read them when it started, but tills redeem (and a marketer may end the campaign) meanwhile.
_SQLITE_CAMPAIGN = (
    "SELECT next_serial, ends_at, max_redemptions, redemption_count FROM campaigns WHERE id = ?"
)
# Origin ``campaign`` and channel ``pwa``, as ``coupons.issuing``: the one coupon per customer.
_SQLITE_INSERT = (
    "INSERT INTO coupons (campaign_id, serial, code_digest, customer_id, origin, channel, issued_at, "
    "starts_at, expires_at, redemption_seq) VALUES (?, ?, ?, ?, 'campaign', 'pwa', ?, ?, ?, 0) "
    "ON CONFLICT (campaign_id, customer_id, origin) DO NOTHING"
)
# Who withdrew consent (or was erased) since the chunk was read: one range scan, usually empty.
_SQLITE_WITHDRAWN = (
    "SELECT id FROM customers WHERE id BETWEEN ? AND ? AND NOT (marketing_consent AND erased_at IS NULL)"
)
# The chunk's serials are its own, so its coupons are found by their range.
_SQLITE_EVENTS = (
    "INSERT INTO events (occurred_at, type, campaign_id, coupon_id, customer_id, channel, quantity) "
    "SELECT :now, 'issued', campaign_id, id, customer_id, channel, 1 FROM coupons "
    "WHERE campaign_id = :campaign AND serial >= :first AND serial < :end"
)
# As ``push.services.queue_pushes``: one row per subscription of an owner who consented to push.
_SQLITE_PUSHES = (
    "INSERT INTO outbox (topic, target, coupon_id, created_at, available_at, attempts) "
    "SELECT 'push_new_offer', CAST(s.id AS VARCHAR(20)), c.id, :now, :now, 0 "
    "FROM coupons c JOIN customers u ON u.id = c.customer_id "
    "JOIN push_subscriptions s ON s.customer_id = c.customer_id "
    "WHERE c.campaign_id = :campaign AND c.serial >= :first AND c.serial < :end "
    "AND u.push_consent AND u.erased_at IS NULL"
)


# Rows inserted between two looks at the worker's queue: about a millisecond of writing, so a
# till's redemption waits that long, plus a commit, for a chunk of any size.
SQLITE_SLICE = 64


class Tills(Protocol):
    """What a chunk asks of the SQLite worker between slices (``SqliteWorker``)."""

    @property
    def foreground_waiting(self) -> bool: ...

    def serve_waiting(self) -> None: ...


def _sqlite_chunk(connection: sqlite3.Connection, chunk: Chunk, tills: Tills) -> Written:
    """The chunk in one transaction while no till waits; when one does, the rows so far are
    committed (the job's cursor at the last of them), the till is served, and the rest goes on
    in a new transaction. Each part checks the cursor and the serials again, as a chunk does."""
    held = 0.0
    issued = 0
    done = 0  # customers of the chunk written (or found withdrawn) so far
    after = chunk.after
    n = len(chunk.customer_ids)
    digests = list(chunk.digests)
    offset = chunk.first_serial  # the serial of the chunk's customer i is offset + i
    while True:
        started = time.perf_counter()
        with immediate_transaction(connection):
            row = connection.execute(
                "SELECT last_customer_id, finished_at FROM publish_jobs WHERE id = ?", (chunk.job_id,)
            ).fetchone()
            next_serial, ends_at, max_redemptions, redemption_count = connection.execute(
                _SQLITE_CAMPAIGN, (chunk.campaign_id,)
            ).fetchone()
            if row is None or row[0] != after or row[1] is not None:
                return Written(Outcome.JOB_MOVED, next_serial, issued, held)
            terms = IssueTerms(parse_sqlite_time(ends_at), max_redemptions, redemption_count)
            if issue_refusal(terms, chunk.issued_at) is not None:
                return Written(Outcome.CAMPAIGN_CHANGED, next_serial, issued, held)
            if done < n and next_serial != offset + done:
                digests[done:] = chunk.digests_for(next_serial, n - done)
                offset = next_serial - done
            end, part = _sqlite_part(connection, chunk, done, offset, digests, tills)
            issued += part
            last = end == n
            connection.execute(
                "UPDATE publish_jobs SET last_customer_id = ?, issued = issued + ?, "
                "already_had = already_had + ?, updated_at = ?, finished_at = ? WHERE id = ?",
                (
                    chunk.until if last else chunk.customer_ids[end - 1],
                    part,
                    end - done - part,
                    sqlite_time(chunk.issued_at),
                    sqlite_time(chunk.issued_at) if last and chunk.last else None,
                    chunk.job_id,
                ),
            )
        held += time.perf_counter() - started
        if last:
            return Written(Outcome.WRITTEN, offset + n, issued, held)
        tills.serve_waiting()
        after, done = chunk.customer_ids[end - 1], end


def _sqlite_part(
    connection: sqlite3.Connection, chunk: Chunk, done: int, offset: int, digests: list[bytes], tills: Tills
) -> tuple[int, int]:
    """Insert the chunk's customers from ``done`` on, slice by slice, until they are all in or a
    till waits; then their events and push outbox rows. ``(end, coupons inserted)``."""
    n = len(chunk.customer_ids)
    if done == n:
        return n, 0
    campaign = chunk.campaign_id
    now = sqlite_time(chunk.issued_at)
    starts, expires = sqlite_time(chunk.starts_at), sqlite_time(chunk.expires_at)
    withdrawn = {
        customer_id
        for (customer_id,) in connection.execute(
            _SQLITE_WITHDRAWN, (chunk.customer_ids[done], chunk.customer_ids[-1])
        )
    }
    inserted = 0
    end = done
    while end < n:
        cut = min(n, end + SQLITE_SLICE)
        before = connection.total_changes
        connection.executemany(
            _SQLITE_INSERT,
            [
                (campaign, offset + i, digests[i], chunk.customer_ids[i], now, starts, expires)
                for i in range(end, cut)
                if chunk.customer_ids[i] not in withdrawn
            ],
        )
        inserted += connection.total_changes - before
        # Events and pushes slice by slice too: a till that waits then waits for the commit only.
        values = {"now": now, "campaign": campaign, "first": offset + end, "end": offset + cut}
        connection.execute(_SQLITE_EVENTS, values)
        connection.execute(_SQLITE_PUSHES, values)
        end = cut
        if tills.foreground_waiting:
            break
    connection.execute("UPDATE campaigns SET next_serial = ? WHERE id = ?", (offset + end, campaign))
    return end, inserted


# No join with customers: planned for a few rows, it hashed the whole table for every chunk.
_PG_INSERT = (
    "INSERT INTO coupons (campaign_id, serial, code_digest, customer_id, origin, channel, issued_at, "
    "starts_at, expires_at, redemption_seq) "
    "SELECT $1, c.serial, c.digest, c.customer_id, 'campaign', 'pwa', $2, $3, $4, 0 "
    "FROM unnest($5::bigint[], $6::bytea[], $7::bigint[]) AS c(serial, digest, customer_id) "
    "ON CONFLICT (campaign_id, customer_id, origin) DO NOTHING"
)
_PG_WITHDRAWN = (
    "SELECT id FROM customers WHERE id BETWEEN $1 AND $2 AND NOT (marketing_consent AND erased_at IS NULL)"
)
_PG_EVENTS = (
    "INSERT INTO events (occurred_at, type, campaign_id, coupon_id, customer_id, channel, quantity) "
    "SELECT $1, 'issued', campaign_id, id, customer_id, channel, 1 FROM coupons "
    "WHERE campaign_id = $2 AND serial >= $3 AND serial < $4"
)
_PG_PUSHES = (
    "INSERT INTO outbox (topic, target, coupon_id, created_at, available_at, attempts) "
    "SELECT 'push_new_offer', CAST(s.id AS VARCHAR(20)), c.id, $1, $1, 0 "
    "FROM coupons c JOIN customers u ON u.id = c.customer_id "
    "JOIN push_subscriptions s ON s.customer_id = c.customer_id "
    "WHERE c.campaign_id = $2 AND c.serial >= $3 AND c.serial < $4 "
    "AND u.push_consent AND u.erased_at IS NULL"
)


class PostgresPublishWriter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write(self, chunk: Chunk) -> Written:
        async with self._pool.acquire() as connection:
            try:
                async with connection.transaction():
                    return await _postgres_chunk(connection, chunk)
            except _Refused as refused:
                serial = await connection.fetchval(
                    "SELECT next_serial FROM campaigns WHERE id = $1", chunk.campaign_id
                )
                return Written(refused.outcome, int(serial))

    async def fail(self, job_id: int, error: str, now: datetime) -> None:
        await self._pool.execute(
            "UPDATE publish_jobs SET error = $2, finished_at = $3, updated_at = $3 "
            "WHERE id = $1 AND finished_at IS NULL",
            job_id,
            error,
            now,
        )


class _Refused(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


async def _postgres_chunk(connection: asyncpg.Connection, chunk: Chunk) -> Written:
    started = time.perf_counter()
    row = await connection.fetchrow(
        "SELECT last_customer_id, finished_at FROM publish_jobs WHERE id = $1 FOR UPDATE", chunk.job_id
    )
    if row is None or row["last_customer_id"] != chunk.after or row["finished_at"] is not None:
        raise _Refused(Outcome.JOB_MOVED)
    campaign = await connection.fetchrow(
        "SELECT ends_at, max_redemptions, redemption_count FROM campaigns WHERE id = $1", chunk.campaign_id
    )
    terms = IssueTerms(campaign["ends_at"], campaign["max_redemptions"], campaign["redemption_count"])
    if issue_refusal(terms, chunk.issued_at) is not None:
        raise _Refused(Outcome.CAMPAIGN_CHANGED)
    n = len(chunk.customer_ids)
    first, digests = chunk.first_serial, chunk.digests
    issued = 0
    if n:
        end = await connection.fetchval(
            "UPDATE campaigns SET next_serial = next_serial + $2 WHERE id = $1 RETURNING next_serial",
            chunk.campaign_id,
            n,
        )
        if end - n != first:
            first, digests = end - n, chunk.digests_for(end - n, n)
        withdrawn = {
            row["id"]
            for row in await connection.fetch(_PG_WITHDRAWN, chunk.customer_ids[0], chunk.customer_ids[-1])
        }
        kept = [
            (first + i, digest, customer_id)
            for i, (customer_id, digest) in enumerate(zip(chunk.customer_ids, digests, strict=True))
            if customer_id not in withdrawn
        ]
        status = await connection.execute(
            _PG_INSERT,
            chunk.campaign_id,
            chunk.issued_at,
            chunk.starts_at,
            chunk.expires_at,
            [serial for serial, _, _ in kept],
            [digest for _, digest, _ in kept],
            [customer_id for _, _, customer_id in kept],
        )
        issued = int(status.rsplit(" ", 1)[1])
        values = (chunk.issued_at, chunk.campaign_id, first, end)
        await connection.execute(_PG_EVENTS, *values)
        await connection.execute(_PG_PUSHES, *values)
    await connection.execute(
        "UPDATE publish_jobs SET last_customer_id = $2, issued = issued + $3, "
        "already_had = already_had + $4, updated_at = $5, finished_at = $6 WHERE id = $1",
        chunk.job_id,
        chunk.until,
        issued,
        n - issued,
        chunk.issued_at,
        chunk.issued_at if chunk.last else None,
    )
    return Written(Outcome.WRITTEN, first + n, issued, time.perf_counter() - started)
