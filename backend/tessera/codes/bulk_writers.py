"""Writing one chunk of a code batch in one transaction, on the raw connection of each store.

The chunk reads ``generated`` under the batch's lock and advances it with the inserted rows,
so concurrent or resumed runs of the same batch never write a serial twice. ``claim`` keeps
a batch to one process at a time while it is written, and frees it when that process dies.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import asyncpg

from tessera.core.db.base import sqlite_time
from tessera.core.db.sqlite_worker import SqliteWorker, immediate_transaction

COLUMNS = (
    "campaign_id",
    "serial",
    "code_digest",
    "customer_id",
    "origin",
    "channel",
    "issued_at",
    "starts_at",
    "expires_at",
    "redemption_seq",
)


@dataclass(frozen=True, slots=True)
class BatchSpec:
    batch_id: int
    campaign_id: int
    channel: str
    count: int
    first_serial: int
    issued_at: datetime
    starts_at: datetime
    expires_at: datetime


DigestsFor = Callable[[int, int], Iterable[bytes]]
"""``(first_serial, n)`` → the digests of those ``n`` codes, in serial order."""


# The first key of the advisory locks that hold a batch (the second is the batch id).
BATCH_LOCK_SPACE = 0x7E55_0001


class ChunkWriter(Protocol):
    async def write_chunk(self, spec: BatchSpec, size: int, digests_for: DigestsFor, now: datetime) -> int:
        """Write up to ``size`` more codes of the batch; returns how many are now generated."""
        ...

    def claim(self, batch_id: int, space: int = BATCH_LOCK_SPACE) -> AbstractAsyncContextManager[bool]:
        """Whether this process may write the batch now (False: another one is writing it),
        held for the duration of the block. ``space`` keeps apart kinds of batches whose ids
        may be equal (contest code batches have their own)."""
        ...


class SqliteChunkWriter:
    def __init__(self, worker: SqliteWorker) -> None:
        self._worker = worker

    async def write_chunk(self, spec: BatchSpec, size: int, digests_for: DigestsFor, now: datetime) -> int:
        return await self._worker.run(
            lambda connection: _sqlite_chunk(connection, spec, size, digests_for, now), background=True
        )

    @asynccontextmanager
    async def claim(self, batch_id: int, space: int = BATCH_LOCK_SPACE) -> AsyncIterator[bool]:
        """SQLite serves one process (README): ``BulkCodes`` keeps a batch to one task of it."""
        yield True


def _sqlite_chunk(
    connection: sqlite3.Connection, spec: BatchSpec, size: int, digests_for: DigestsFor, now: datetime
) -> int:
    with immediate_transaction(connection):
        (generated,) = connection.execute(
            "SELECT generated FROM code_batches WHERE id = ?", (spec.batch_id,)
        ).fetchone()
        n = min(size, spec.count - generated)
        if n <= 0:
            return int(generated)
        first = spec.first_serial + generated
        origin = f"batch:{spec.batch_id}"
        issued, starts, expires = (sqlite_time(t) for t in (spec.issued_at, spec.starts_at, spec.expires_at))
        connection.executemany(
            f"INSERT INTO coupons ({', '.join(COLUMNS)}) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, 0)",  # noqa: S608
            (
                (spec.campaign_id, first + i, digest, origin, spec.channel, issued, starts, expires)
                for i, digest in enumerate(digests_for(first, n))
            ),
        )
        connection.execute(
            "INSERT INTO events (occurred_at, type, campaign_id, channel, quantity) "
            "VALUES (?, 'issued', ?, ?, ?)",
            (issued, spec.campaign_id, spec.channel, n),
        )
        finished = sqlite_time(now) if generated + n == spec.count else None
        connection.execute(
            "UPDATE code_batches SET generated = ?, finished_at = ? WHERE id = ?",
            (generated + n, finished, spec.batch_id),
        )
        return int(generated + n)


class PostgresChunkWriter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def claim(self, batch_id: int, space: int = BATCH_LOCK_SPACE) -> AsyncIterator[bool]:
        """A session-level advisory lock on a connection kept for the block, given back at its
        end. The end of a process that died (its connection) unlocks it too: its batch is then
        free for the next ``resume``."""
        # Ids past 2**31 share a key with a smaller one: such a pair is written one after the
        # other, never at once.
        key = (space, batch_id & 0x7FFF_FFFF)
        async with self._pool.acquire() as connection:
            ours: bool = await connection.fetchval("SELECT pg_try_advisory_lock($1, $2)", *key)
            try:
                yield ours
            finally:
                if ours:
                    try:
                        await connection.execute("SELECT pg_advisory_unlock($1, $2)", *key)
                    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                        connection.terminate()  # the session's end gives the lock back

    async def write_chunk(self, spec: BatchSpec, size: int, digests_for: DigestsFor, now: datetime) -> int:
        async with self._pool.acquire() as connection, connection.transaction():
            generated = await connection.fetchval(
                "SELECT generated FROM code_batches WHERE id = $1 FOR UPDATE", spec.batch_id
            )
            n = min(size, spec.count - generated)
            if n <= 0:
                return int(generated)
            first = spec.first_serial + generated
            origin = f"batch:{spec.batch_id}"
            await connection.copy_records_to_table(
                "coupons",
                columns=COLUMNS,
                records=[
                    (
                        spec.campaign_id,
                        first + i,
                        digest,
                        None,
                        origin,
                        spec.channel,
                        spec.issued_at,
                        spec.starts_at,
                        spec.expires_at,
                        0,
                    )
                    for i, digest in enumerate(digests_for(first, n))
                ],
            )
            await connection.execute(
                "INSERT INTO events (occurred_at, type, campaign_id, channel, quantity) "
                "VALUES ($1, 'issued', $2, $3, $4)",
                spec.issued_at,
                spec.campaign_id,
                spec.channel,
                n,
            )
            await connection.execute(
                "UPDATE code_batches SET generated = $1, finished_at = $2 WHERE id = $3",
                generated + n,
                now if generated + n == spec.count else None,
                spec.batch_id,
            )
            return int(generated + n)
