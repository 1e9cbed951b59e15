"""The redemption ledger on PostgreSQL: one call of ``tessera_redeem`` per redemption.

asyncpg straight to the function keeps a redemption to one round trip and one statement; the
SQLAlchemy path costs several times the CPU per request (README, Performance).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from tessera.redemptions.ledger import Outcome, RedeemRequest, ThrottleRule

_REDEEM = (
    "SELECT status, body, replayed "
    "FROM tessera_redeem($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
)


# Subjects in one order (by subject) in every statement that writes the counters, tessera_redeem
# included, so two writers never wait on each other's rows (a deadlock).
_COUNT_FAILURES = (
    "INSERT INTO attempt_counters AS a (subject, window_start, failures) "
    "SELECT subject, $2, 1 FROM unnest($1::text[]) AS subject ORDER BY subject "
    "ON CONFLICT (subject, window_start) DO UPDATE SET failures = a.failures + 1"
)


async def _init_connection(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Nothing to reset: the hot paths leave no session state behind (``claim`` gives its
    advisory lock back itself), and asyncpg still rolls back a transaction left open. Its
    default reset is a second round trip of four statements after every query."""


async def create_pool(dsn: str, size: int) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=size, init=_init_connection, reset=_keep_session
    )
    return pool


class PostgresLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def redeem(self, request: RedeemRequest) -> Outcome:
        claim = request.idempotency
        rule = request.throttle
        row = await self._pool.fetchrow(
            _REDEEM,
            claim.scope if claim else None,
            claim.key if claim else None,
            claim.request_hash if claim else None,
            request.digest,
            request.now,
            request.store_id,
            request.staff_id,
            request.medium,
            request.order_total,
            list(rule.subjects),
            [budget for _, budget in rule.budgets],
            rule.window_start(request.now),
            rule.retry_after(request.now),
        )
        body: dict[str, Any] = row["body"]
        return Outcome(row["status"], body, replayed=row["replayed"])

    async def throttled(self, rule: ThrottleRule, now: datetime) -> bool:
        rows = await self._pool.fetch(
            "SELECT subject, failures FROM attempt_counters WHERE window_start = $1 AND subject = ANY($2)",
            rule.window_start(now),
            list(rule.subjects),
        )
        return rule.spent({row["subject"]: row["failures"] for row in rows})

    async def record_failure(self, rule: ThrottleRule, now: datetime) -> None:
        await self._pool.execute(_COUNT_FAILURES, sorted(set(rule.subjects)), rule.window_start(now))

    async def take_attempt(self, rule: ThrottleRule, now: datetime) -> bool:
        rows = await self._pool.fetch(
            f"{_COUNT_FAILURES} RETURNING subject, failures",
            sorted(set(rule.subjects)),
            rule.window_start(now),
        )
        return rule.within({row["subject"]: row["failures"] for row in rows})

    async def give_back(self, rule: ThrottleRule, now: datetime) -> None:
        await self._pool.execute(
            "UPDATE attempt_counters SET failures = failures - 1 "
            "WHERE subject = ANY($1) AND window_start = $2 AND failures > 0",
            list(rule.subjects),
            rule.window_start(now),
        )
