"""Writing one chunk of a code batch in one transaction, on the raw connection of each store.

The chunk reads ``generated`` under the batch's lock and advances it with the inserted rows,
so concurrent or resumed runs of the same batch never write a serial twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import asyncpg

from tessera.db.base import sqlite_time
from tessera.db.sqlite_worker import SqliteWorker, immediate_transaction

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


class ChunkWriter(Protocol):
    async def write_chunk(self, spec: BatchSpec, size: int, digests_for: DigestsFor, now: datetime) -> int:
        """Write up to ``size`` more codes of the batch; returns how many are now generated."""
        ...


class SqliteChunkWriter:
    def __init__(self, worker: SqliteWorker) -> None:
        self._worker = worker

    async def write_chunk(self, spec: BatchSpec, size: int, digests_for: DigestsFor, now: datetime) -> int:
        return await self._worker.run(
            lambda connection: _sqlite_chunk(connection, spec, size, digests_for, now)
        )


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
