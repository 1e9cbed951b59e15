"""The inbound messages whose reply needs no domain service — HELP from any number, anything
from a number no customer registered — decided and written in one call on the raw connection of
each store (SQLite: the hot-path thread; PostgreSQL: one asyncpg statement), as redemptions are.
The SQLAlchemy path of ``SmsInbox`` took about 46 thread hops (SQLite) or ten round trips
(PostgreSQL) for the same four rows. Anything else (STOP or a keyword from a customer, codes) is
left to that path, with nothing written.

The rows are those the SQLAlchemy path writes: the gateway id with the reply and the customer
(a repeated id changes nothing), the ``sms_reply`` outbox row and the ``sms_received`` event.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import asyncpg

from tessera.core.db.base import sqlite_time
from tessera.core.db.sqlite_worker import SqliteWorker, immediate_transaction

SMS_REPLY = "sms_reply"


@dataclass(frozen=True, slots=True)
class Arrival:
    gateway_id: str
    number: str  # E.164
    to: str
    command: str | None  # ``words.command_of`` of the text
    received_at: datetime
    now: datetime


@dataclass(frozen=True, slots=True)
class Recorded:
    """``duplicate``: the gateway id was recorded before; nothing was written."""

    duplicate: bool


def simple_reply(command: str | None, customer_id: int | None) -> str | None:
    """The reply when no domain service is needed, else None (``SmsInbox._decide``'s first
    rules: STOP and HELP answered for any number, only the registration link for a stranger)."""
    if command == "help":
        return "help"
    if customer_id is not None:
        return None
    return "stop" if command == "stop" else "register"


class InboxWriter(Protocol):
    async def record_simple(self, arrival: Arrival) -> Recorded | None:
        """Record ``arrival`` when its reply needs no domain service; None (nothing written)
        otherwise."""
        ...


_SQLITE_CUSTOMER = "SELECT id FROM customers WHERE phone = ? AND erased_at IS NULL"
_SQLITE_INBOUND = (
    "INSERT INTO sms_inbound (gateway_id, from_number, to_number, customer_id, reply, received_at, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gateway_id) DO NOTHING RETURNING id"
)
_SQLITE_OUTBOX = (
    "INSERT INTO outbox (topic, target, coupon_id, payload, created_at, available_at, attempts) "
    "VALUES (?, ?, NULL, ?, ?, ?, 0)"
)
_SQLITE_EVENT = (
    "INSERT INTO events (occurred_at, type, customer_id, channel, quantity, data) "
    "VALUES (?, 'sms_received', ?, 'sms', 1, ?)"
)


class SqliteInboxWriter:
    def __init__(self, worker: SqliteWorker) -> None:
        self._worker = worker

    async def record_simple(self, arrival: Arrival) -> Recorded | None:
        return await self._worker.run(lambda connection: _sqlite_simple(connection, arrival))


def _sqlite_simple(connection: sqlite3.Connection, arrival: Arrival) -> Recorded | None:
    with immediate_transaction(connection):
        found = connection.execute(_SQLITE_CUSTOMER, (arrival.number,)).fetchone()
        customer_id = found[0] if found is not None else None
        reply = simple_reply(arrival.command, customer_id)
        if reply is None:
            return None
        now = sqlite_time(arrival.now)
        inbound = connection.execute(
            _SQLITE_INBOUND,
            (
                arrival.gateway_id,
                arrival.number,
                arrival.to[:32],
                customer_id,
                reply,
                sqlite_time(arrival.received_at),
                now,
            ),
        ).fetchone()
        if inbound is None:
            return Recorded(duplicate=True)
        payload = json.dumps({"reply": reply})
        connection.execute(_SQLITE_OUTBOX, (SMS_REPLY, str(inbound[0]), payload, now, now))
        connection.execute(_SQLITE_EVENT, (now, customer_id, payload))
    return Recorded(duplicate=False)


# One statement: the customer looked up, the reply decided, and (only for a simple reply and a
# new gateway id) the three rows written.
_POSTGRES_SIMPLE = """
WITH customer AS (
    SELECT min(id) AS id FROM customers WHERE phone = $2 AND erased_at IS NULL
), decided AS (
    SELECT id AS customer_id,
           CASE WHEN $4::text = 'help' THEN 'help'
                WHEN id IS NOT NULL THEN NULL
                WHEN $4::text = 'stop' THEN 'stop'
                ELSE 'register' END AS reply
    FROM customer
), inbound AS (
    INSERT INTO sms_inbound (gateway_id, from_number, to_number, customer_id, reply, received_at, created_at)
    SELECT $1, $2, $3, customer_id, reply, $5, $6 FROM decided WHERE reply IS NOT NULL
    ON CONFLICT (gateway_id) DO NOTHING
    RETURNING id, customer_id, reply
), queued AS (
    INSERT INTO outbox (topic, target, coupon_id, payload, created_at, available_at, attempts)
    SELECT 'sms_reply', id::text, NULL, jsonb_build_object('reply', reply), $6, $6, 0 FROM inbound
), logged AS (
    INSERT INTO events (occurred_at, type, customer_id, channel, quantity, data)
    SELECT $6, 'sms_received', customer_id, 'sms', 1, jsonb_build_object('reply', reply) FROM inbound
)
SELECT decided.reply, (SELECT count(*) FROM inbound) AS written FROM decided
"""


class PostgresInboxWriter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_simple(self, arrival: Arrival) -> Recorded | None:
        row = await self._pool.fetchrow(
            _POSTGRES_SIMPLE,
            arrival.gateway_id,
            arrival.number,
            arrival.to[:32],
            arrival.command,
            arrival.received_at,
            arrival.now,
        )
        if row is None or row["reply"] is None:
            return None
        return Recorded(duplicate=row["written"] == 0)
