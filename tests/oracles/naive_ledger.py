"""A deliberately naive redemption ledger for PostgreSQL, for the race suite to catch.

It reads the coupon and the counters, checks them with the offer rules (``tessera.offers``) in
Python, then writes in a transaction of
its own with unconditional statements: read-check-then-write, exactly what the architecture
forbids. One request at a time it answers like ``PostgresLedger`` (same statuses, same bodies,
same rows), so only concurrency can tell them apart — which is what the race suite
(``tests/processes/test_redemption_races.py``) proves it does. It ignores ``Idempotency-Key``
(the races send none).
"""

from __future__ import annotations

from tessera.offers.rules import Attempt, CouponState, OfferTerms, StoreRef, decide
from tessera.redemptions.ledger import Outcome, RedeemRequest, success_body
from tessera.redemptions.ledger_postgres import PostgresLedger

_READ_COUPON = """
SELECT c.id, c.campaign_id, c.customer_id, c.channel, c.redeemed_at, c.revoked_at,
       c.starts_at, c.expires_at, cm.max_redemptions, cm.redemption_count, cm.per_customer_limit,
       cm.discount_kind, cm.discount_value, cm.currency, cm.stores, cm.min_order_total,
       r.store_id AS redeemed_store_id, s.name AS redeemed_store_name
FROM coupons c JOIN campaigns cm ON cm.id = c.campaign_id
LEFT JOIN redemptions r ON r.coupon_id = c.id AND r.seq = c.redemption_seq AND r.kind = 'redeem'
LEFT JOIN stores s ON s.id = r.store_id
WHERE c.code_digest = $1
"""
_STORE_NAMES = "SELECT id, name FROM stores WHERE id = ANY($1::bigint[])"
_READ_CUSTOMER_COUNT = """
SELECT redeemed FROM customer_redemption_counts WHERE campaign_id = $1 AND customer_id = $2
"""
_MARK_REDEEMED = """
UPDATE coupons SET redeemed_at = $2, redemption_seq = redemption_seq + 1 WHERE id = $1
RETURNING redemption_seq
"""
_COUNT_CAMPAIGN = "UPDATE campaigns SET redemption_count = redemption_count + 1 WHERE id = $1"
_COUNT_CUSTOMER = """
INSERT INTO customer_redemption_counts AS n (campaign_id, customer_id, redeemed) VALUES ($1, $2, 1)
ON CONFLICT (campaign_id, customer_id) DO UPDATE SET redeemed = n.redeemed + 1
"""
_INSERT_REDEMPTION = """
INSERT INTO redemptions (kind, coupon_id, seq, campaign_id, customer_id, store_id, staff_id,
                         medium, channel, order_total, occurred_at)
VALUES ('redeem', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id
"""
_INSERT_EVENT = """
INSERT INTO events (occurred_at, type, campaign_id, coupon_id, customer_id, channel, medium,
                    store_id, staff_id, amount)
VALUES ($1, 'redeemed', $2, $3, $4, $5, $6, $7, $8, $9)
"""


class NaiveLedger(PostgresLedger):
    """``PostgresLedger`` with its redemption replaced by read-check-then-write (throttling
    is inherited unchanged)."""

    async def redeem(self, request: RedeemRequest) -> Outcome:
        now = request.now
        # Read …
        coupon = await self._pool.fetchrow(_READ_COUPON, request.digest)
        state = terms = None
        redeemed = 0
        if coupon is not None:
            where = coupon["redeemed_store_id"]
            state = CouponState(
                starts_at=coupon["starts_at"],
                expires_at=coupon["expires_at"],
                redeemed_at=coupon["redeemed_at"],
                revoked_at=coupon["revoked_at"],
                customer_id=coupon["customer_id"],
                redeemed_store=StoreRef(where, coupon["redeemed_store_name"]) if where else None,
            )
            stores = None
            if coupon["stores"] is not None:
                names = dict(await self._pool.fetch(_STORE_NAMES, coupon["stores"]))
                stores = tuple(StoreRef(store_id, names.get(store_id, "")) for store_id in coupon["stores"])
            terms = OfferTerms(
                stores=stores,
                min_order_total=coupon["min_order_total"],
                max_redemptions=coupon["max_redemptions"],
                redemption_count=coupon["redemption_count"],
                per_customer_limit=coupon["per_customer_limit"],
            )
            if coupon["customer_id"] is not None and coupon["per_customer_limit"] is not None:
                redeemed = (
                    await self._pool.fetchval(
                        _READ_CUSTOMER_COUNT, coupon["campaign_id"], coupon["customer_id"]
                    )
                    or 0
                )
        # … check with the offer rules …
        refusal = decide(state, terms, redeemed, Attempt(now, request.store_id, request.order_total))
        if refusal is not None:
            if refusal.status == 404:
                await self.record_failure(request.throttle, now)
            return Outcome(refusal.status, refusal.body())
        assert coupon is not None
        cap = coupon["max_redemptions"]
        counted = coupon["per_customer_limit"] is not None and coupon["customer_id"] is not None
        # … then write, trusting what was read.
        async with self._pool.acquire() as connection, connection.transaction():
            seq = await connection.fetchval(_MARK_REDEEMED, coupon["id"], now)
            if cap is not None:
                await connection.execute(_COUNT_CAMPAIGN, coupon["campaign_id"])
            if counted:
                await connection.execute(_COUNT_CUSTOMER, coupon["campaign_id"], coupon["customer_id"])
            redemption_id = await connection.fetchval(
                _INSERT_REDEMPTION,
                coupon["id"],
                seq,
                coupon["campaign_id"],
                coupon["customer_id"],
                request.store_id,
                request.staff_id,
                request.medium,
                coupon["channel"],
                request.order_total,
                now,
            )
            await connection.execute(
                _INSERT_EVENT,
                now,
                coupon["campaign_id"],
                coupon["id"],
                coupon["customer_id"],
                coupon["channel"],
                request.medium,
                request.store_id,
                request.staff_id,
                request.order_total,
            )
        return Outcome(
            201,
            success_body(
                redemption_id=redemption_id,
                coupon_id=coupon["id"],
                campaign_id=coupon["campaign_id"],
                redeemed_at=now,
                store_id=request.store_id,
                staff_id=request.staff_id,
                medium=request.medium,
                channel=coupon["channel"],
                order_total=request.order_total,
                discount_kind=coupon["discount_kind"],
                discount_value=coupon["discount_value"],
                currency=coupon["currency"],
            ),
        )
