"""The redemption ledger on SQLite: the whole decision in one transaction on the worker thread."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import msgspec

from tessera.core.db.base import parse_sqlite_time, sqlite_time
from tessera.core.db.sqlite_worker import SqliteWorker, immediate_transaction
from tessera.offers.refusals import Reason
from tessera.offers.rules import (
    Attempt,
    CouponState,
    OfferTerms,
    Refusal,
    StoreRef,
    coupon_refusal,
    terms_refusal,
)
from tessera.redemptions.ledger import (
    IdempotencyClaim,
    Outcome,
    RedeemRequest,
    ThrottleRule,
    success_body,
)
from tessera.wallet.changes import CAMPAIGN_SPENT_SQL, OWNER_OTHERS_IN_WALLET_SQL, QUEUE_PASS_PUSHES_SQL

_REDEEM_COUPON = """
UPDATE coupons SET redeemed_at = :now, redemption_seq = redemption_seq + 1
WHERE code_digest = :digest AND redeemed_at IS NULL AND revoked_at IS NULL
  AND starts_at <= :now AND expires_at > :now
RETURNING id, campaign_id, customer_id, channel, redemption_seq, wallet_added_at
"""
# Counters are kept only for campaigns that set the limit (see CampaignService.update for the
# recount when a limit is added), so unlimited campaigns never contend on one row.
_CAMPAIGN_RULES = """
SELECT max_redemptions, per_customer_limit, discount_kind, discount_value, currency, stores,
       min_order_total
FROM campaigns WHERE id = ?
"""
_STORE_NAMES = "SELECT id, name FROM stores WHERE id IN (SELECT value FROM json_each(?))"
# Each answers whether this redemption spent the limit: then passes that read usable read used
# up from now on (``wallet.changes``).
_COUNT_CAMPAIGN = """
UPDATE campaigns SET redemption_count = redemption_count + 1
WHERE id = ? AND redemption_count < max_redemptions
RETURNING redemption_count >= max_redemptions
"""
_COUNT_CUSTOMER = """
INSERT INTO customer_redemption_counts (campaign_id, customer_id, redeemed, passes_changed_at)
VALUES (:campaign_id, :customer_id, 1, CASE WHEN :limit <= 1 THEN :now END)
ON CONFLICT (campaign_id, customer_id) DO UPDATE SET redeemed = redeemed + 1,
    passes_changed_at = CASE WHEN redeemed + 1 >= :limit THEN :now ELSE passes_changed_at END
WHERE customer_redemption_counts.redeemed < :limit
RETURNING redeemed >= :limit
"""
_UNCOUNT_CAMPAIGN = "UPDATE campaigns SET redemption_count = redemption_count - 1 WHERE id = ?"
_GIVE_BACK_COUPON = "UPDATE coupons SET redeemed_at = NULL, redemption_seq = redemption_seq - 1 WHERE id = ?"
_INSERT_REDEMPTION = """
INSERT INTO redemptions (kind, coupon_id, seq, campaign_id, customer_id, store_id, staff_id,
                         medium, channel, order_total, occurred_at)
VALUES ('redeem', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
"""
_INSERT_EVENT = """
INSERT INTO events (occurred_at, type, campaign_id, coupon_id, customer_id, channel, medium,
                    store_id, staff_id, amount)
VALUES (?, 'redeemed', ?, ?, ?, ?, ?, ?, ?, ?)
"""
_INSERT_ANSWER = (
    "INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at, completed_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_DIAGNOSE = """
SELECT c.redeemed_at, c.revoked_at, c.starts_at, c.expires_at, r.store_id, s.name
FROM coupons c
LEFT JOIN redemptions r ON r.coupon_id = c.id AND r.seq = c.redemption_seq AND r.kind = 'redeem'
LEFT JOIN stores s ON s.id = r.store_id
WHERE c.code_digest = ?
"""


class _Failed(Exception):
    def __init__(self, refusal: Refusal) -> None:
        self.outcome = Outcome(refusal.status, refusal.body())


@dataclass(frozen=True, slots=True)
class _Campaign:
    terms: OfferTerms
    discount_kind: str
    discount_value: int
    currency: str | None


_CAMPAIGN_SPENT = Refusal(Reason.CAMPAIGN_LIMIT, {"limit": "campaign"})
_CUSTOMER_SPENT = Refusal(Reason.CUSTOMER_LIMIT, {"limit": "customer"})


MAX_BATCH = 256


class SqliteLedger:
    """Group commit: redemptions that arrive while the worker is busy are decided together in
    one transaction and answered after its COMMIT — one thread hop and one
    commit per batch instead of per redemption, and still no answer before its data is durable.
    The SQLite work runs on the worker thread, beside the event loop: deciding on the loop's own
    thread measured slower, as the loop then does both halves of every redemption in turn.
    """

    def __init__(self, worker: SqliteWorker) -> None:
        self._worker = worker
        self._pending: list[tuple[RedeemRequest, asyncio.Future[Outcome]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def redeem(self, request: RedeemRequest) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                requests = [request for request, _ in batch]
                try:
                    results = await self._worker.run(partial(_redeem_batch, requests=requests))
                except Exception as error:  # the COMMIT failed: nothing of the batch happened
                    results = [error] * len(batch)
                _answer(batch, results)
        finally:
            self._flusher = None

    async def throttled(self, rule: ThrottleRule, now: datetime) -> bool:
        return await self._worker.run(lambda connection: _throttled(connection, rule, now))

    async def record_failure(self, rule: ThrottleRule, now: datetime) -> None:
        def work(connection: sqlite3.Connection) -> None:
            with immediate_transaction(connection):
                _record_failure(connection, rule, now)

        await self._worker.run(work)

    async def take_attempt(self, rule: ThrottleRule, now: datetime) -> bool:
        def work(connection: sqlite3.Connection) -> bool:
            with immediate_transaction(connection):
                return rule.within(_count_attempt(connection, rule, now))

        return await self._worker.run(work)

    async def give_back(self, rule: ThrottleRule, now: datetime) -> None:
        window = rule.window_start(now)

        def work(connection: sqlite3.Connection) -> None:
            with immediate_transaction(connection):
                connection.executemany(
                    "UPDATE attempt_counters SET failures = failures - 1 "
                    "WHERE subject = ? AND window_start = ? AND failures > 0",
                    [(subject, window) for subject in rule.subjects],
                )

        await self._worker.run(work)


def _answer(
    batch: list[tuple[RedeemRequest, asyncio.Future[Outcome]]], results: list[Outcome | Exception]
) -> None:
    for (_, future), result in zip(batch, results, strict=True):
        if future.done():  # the caller went away; its answer is stored if it had a key
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)


def _redeem_batch(
    connection: sqlite3.Connection, *, requests: list[RedeemRequest]
) -> list[Outcome | Exception]:
    """The batch in one transaction. A constraint that refuses one request's row (none is
    expected: the decision runs alone in an IMMEDIATE transaction) rolls the whole batch back;
    then each request is decided in a transaction of its own, so only that one fails. Any other
    error (busy, disk full, a failed COMMIT) fails the batch: nothing of it happened."""
    try:
        with immediate_transaction(connection):
            return list(_decide(connection, requests))
    except sqlite3.IntegrityError:
        if len(requests) == 1:
            raise
    results: list[Outcome | Exception] = []
    for request in requests:
        try:
            with immediate_transaction(connection):
                results.extend(_decide(connection, [request]))
        except sqlite3.Error as error:
            results.append(error)
    return results


@dataclass(slots=True)
class _Batch:
    """What the decisions of one transaction share: each campaign's rules and each throttle
    subject's failures, read once (nobody else writes while the transaction runs), and the
    event and idempotency rows, written together at its end. Each statement saved here is one
    trip through Python per redemption, and this thread shares the interpreter with the loop."""

    campaigns: dict[int, _Campaign] = field(default_factory=dict)
    failures: dict[tuple[str, int], int] = field(default_factory=dict)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    answers: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)

    def write(self, connection: sqlite3.Connection) -> None:
        if self.events:
            connection.executemany(_INSERT_EVENT, self.events)
        if self.answers:
            connection.executemany(_INSERT_ANSWER, self.answers.values())


def _decide(connection: sqlite3.Connection, requests: list[RedeemRequest]) -> list[Outcome]:
    batch = _Batch()
    outcomes = [_redeem_in_transaction(connection, request, batch) for request in requests]
    batch.write(connection)
    return outcomes


def _redeem_in_transaction(connection: sqlite3.Connection, request: RedeemRequest, batch: _Batch) -> Outcome:
    claim = request.idempotency
    if claim is not None:
        stored = _stored(connection, claim, batch)
        if stored is not None:
            return stored
    if _throttled(connection, request.throttle, request.now, batch):
        # Nothing stored: the same key may be retried once the window has passed.
        return Outcome(
            429, {"code": "too_many_attempts", "retry_after": request.throttle.retry_after(request.now)}
        )
    now = sqlite_time(request.now)
    try:
        outcome = _apply(connection, request, batch, now)
    except _Failed as failure:  # _apply has undone its own writes
        outcome = failure.outcome
        if outcome.status == 404:
            _record_failure(connection, request.throttle, request.now, batch)
    if claim is not None:
        body = msgspec.json.encode(outcome.body)
        batch.answers[(claim.scope, claim.key)] = (
            claim.scope,
            claim.key,
            claim.request_hash,
            outcome.status,
            body,
            now,
            now,
        )
    return outcome


def _apply(connection: sqlite3.Connection, request: RedeemRequest, batch: _Batch, now: str) -> Outcome:
    """``now`` is ``request.now`` in the stored text form."""
    coupon = connection.execute(_REDEEM_COUPON, {"now": now, "digest": request.digest}).fetchone()
    if coupon is None:
        raise _Failed(_diagnose(connection, request.digest, request.now))
    coupon_id, campaign_id, customer_id, channel, seq, wallet_added_at = coupon
    campaign = batch.campaigns.get(campaign_id)
    if campaign is None:
        campaign = batch.campaigns[campaign_id] = _read_campaign(connection, campaign_id)
    terms = campaign.terms
    # A rule that refuses gives back what was taken, as tessera_redeem does on PostgreSQL (one
    # writer at a time here, so nobody saw it in between).
    refusal = terms_refusal(terms, Attempt(request.now, request.store_id, request.order_total))
    if refusal is not None:
        connection.execute(_GIVE_BACK_COUPON, (coupon_id,))
        raise _Failed(refusal)
    capped = terms.max_redemptions is not None
    campaign_spent = owner_spent = False
    if capped:
        counted = connection.execute(_COUNT_CAMPAIGN, (campaign_id,)).fetchone()
        if counted is None:
            connection.execute(_GIVE_BACK_COUPON, (coupon_id,))
            raise _Failed(_CAMPAIGN_SPENT)
        campaign_spent = bool(counted[0])
    per_customer = terms.per_customer_limit
    if customer_id is not None and per_customer is not None:
        owner = {"campaign_id": campaign_id, "customer_id": customer_id, "limit": per_customer, "now": now}
        counted = connection.execute(_COUNT_CUSTOMER, owner).fetchone()
        if counted is None:
            if capped:
                connection.execute(_UNCOUNT_CAMPAIGN, (campaign_id,))
            connection.execute(_GIVE_BACK_COUPON, (coupon_id,))
            raise _Failed(_CUSTOMER_SPENT)
        owner_spent = bool(counted[0])
    (redemption_id,) = connection.execute(
        _INSERT_REDEMPTION,
        (
            coupon_id,
            seq,
            campaign_id,
            customer_id,
            request.store_id,
            request.staff_id,
            request.medium,
            channel,
            request.order_total,
            now,
        ),
    ).fetchone()
    batch.events.append(
        (
            now,
            campaign_id,
            coupon_id,
            customer_id,
            channel,
            request.medium,
            request.store_id,
            request.staff_id,
            request.order_total,
        ),
    )
    if wallet_added_at is not None:
        connection.execute(QUEUE_PASS_PUSHES_SQL, {"coupon_id": coupon_id, "now": now})
    if owner_spent:
        owner = {"campaign_id": campaign_id, "customer_id": customer_id, "coupon_id": coupon_id}
        for (other,) in connection.execute(OWNER_OTHERS_IN_WALLET_SQL, owner).fetchall():
            connection.execute(QUEUE_PASS_PUSHES_SQL, {"coupon_id": other, "now": now})
    if campaign_spent:
        for statement in CAMPAIGN_SPENT_SQL:
            connection.execute(
                statement, {"campaign_id": campaign_id, "target": str(campaign_id), "now": now}
            )
    return Outcome(
        201,
        success_body(
            redemption_id=redemption_id,
            coupon_id=coupon_id,
            campaign_id=campaign_id,
            redeemed_at=request.now,
            store_id=request.store_id,
            staff_id=request.staff_id,
            medium=request.medium,
            channel=channel,
            order_total=request.order_total,
            discount_kind=campaign.discount_kind,
            discount_value=campaign.discount_value,
            currency=campaign.currency,
        ),
    )


def _read_campaign(connection: sqlite3.Connection, campaign_id: int) -> _Campaign:
    max_redemptions, per_customer, kind, value, currency, stores, minimum = connection.execute(
        _CAMPAIGN_RULES, (campaign_id,)
    ).fetchone()
    refs = None
    if stores is not None:
        names = dict(connection.execute(_STORE_NAMES, (stores,)).fetchall())
        refs = tuple(StoreRef(store_id, names.get(store_id, "")) for store_id in msgspec.json.decode(stores))
    # The counts are not read: the conditional counters decide the limits.
    terms = OfferTerms(refs, minimum, max_redemptions, 0, per_customer)
    return _Campaign(terms, kind, value, currency)


def _diagnose(connection: sqlite3.Connection, digest: bytes, now: datetime) -> Refusal:
    """Why the conditional update found no usable coupon, in the words of the offer rules."""
    row = connection.execute(_DIAGNOSE, (digest,)).fetchone()
    state = None
    if row is not None:
        redeemed_at, revoked_at, starts_at, expires_at, store_id, store_name = row
        state = CouponState(
            starts_at=parse_sqlite_time(starts_at),
            expires_at=parse_sqlite_time(expires_at),
            redeemed_at=parse_sqlite_time(redeemed_at) if redeemed_at is not None else None,
            revoked_at=parse_sqlite_time(revoked_at) if revoked_at is not None else None,
            redeemed_store=StoreRef(store_id, store_name) if store_id is not None else None,
        )
    return coupon_refusal(state, now) or Refusal(Reason.UNKNOWN, {})


def _stored(connection: sqlite3.Connection, claim: IdempotencyClaim, batch: _Batch) -> Outcome | None:
    """The answer already given for this key (in this batch or before), or the refusal of a key
    used for another request.

    Inside one IMMEDIATE transaction no other request can hold the key half-done, so the record
    is written once, complete, at the end (PostgreSQL reserves it first: see tessera_redeem).
    """
    given = batch.answers.get((claim.scope, claim.key))
    row = (
        given[2:5]
        if given is not None
        else connection.execute(
            "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = ? AND key = ?",
            (claim.scope, claim.key),
        ).fetchone()
    )
    if row is None:
        return None
    request_hash, status, body = row
    if request_hash != claim.request_hash:
        return Outcome(422, {"code": "idempotency_key_reused"})
    if status is None:
        return Outcome(409, {"code": "request_in_progress"})
    return Outcome(status, msgspec.json.decode(body), replayed=True)


def _throttled(
    connection: sqlite3.Connection, rule: ThrottleRule, now: datetime, batch: _Batch | None = None
) -> bool:
    window = rule.window_start(now)
    known = batch.failures if batch is not None else {}
    missing = [subject for subject in rule.subjects if (subject, window) not in known]
    if missing:
        placeholders = ",".join("?" * len(missing))
        counted = "SELECT subject, failures FROM attempt_counters WHERE window_start = ? AND subject IN "
        found = dict(connection.execute(f"{counted}({placeholders})", (window, *missing)).fetchall())
        known.update({(subject, window): found.get(subject, 0) for subject in missing})
    return rule.spent({subject: known[(subject, window)] for subject in rule.subjects})


def _count_attempt(connection: sqlite3.Connection, rule: ThrottleRule, now: datetime) -> dict[str, int]:
    window = rule.window_start(now)
    counts: dict[str, int] = {}
    for subject in rule.subjects:
        (counts[subject],) = connection.execute(
            "INSERT INTO attempt_counters (subject, window_start, failures) VALUES (?, ?, 1) "
            "ON CONFLICT (subject, window_start) DO UPDATE SET failures = failures + 1 RETURNING failures",
            (subject, window),
        ).fetchone()
    return counts


def _record_failure(
    connection: sqlite3.Connection, rule: ThrottleRule, now: datetime, batch: _Batch | None = None
) -> None:
    window = rule.window_start(now)
    if batch is not None:
        for subject in rule.subjects:
            if (subject, window) in batch.failures:
                batch.failures[(subject, window)] += 1
    connection.executemany(
        "INSERT INTO attempt_counters (subject, window_start, failures) VALUES (?, ?, 1) "
        "ON CONFLICT (subject, window_start) DO UPDATE SET failures = failures + 1",
        [(subject, window) for subject in rule.subjects],
    )
