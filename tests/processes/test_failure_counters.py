"""Failed scans arriving together from tills that share a store (and the budget of all scans)
write the same counters. They are written in one order, so none waits on another: on
PostgreSQL they once deadlocked, and a till got an error instead of its answer.

The ledger itself is driven here, from as many connections as there are tills: through the
HTTP stack the requests overlap too little at the database to show the collision reliably."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from datetime import timedelta

from tessera.assembly.raw_store import open_raw_store
from tessera.core.settings import Settings
from tessera.redemptions.ledger import RedeemRequest, ThrottleRule
from tests.support.fixed_values import START

TILLS, STORES, ROUNDS, GUESSES = 16, 2, 3, 50
UNLIMITED = 10**6  # every guess is a failure that writes the counters


async def test_failed_scans_at_once_from_tills_of_one_store_never_collide(settings: Settings) -> None:
    # These ids' counter rows the statement of migration 0007 took in different orders (it
    # wrote them in hash order); any ids are written in subject order now.
    tills = [(staff % STORES, staff) for staff in range(TILLS)]
    raw = await open_raw_store(settings.database.__class__(url=settings.database.url, pool_size=len(tills)))
    statuses: Counter[int] = Counter()
    try:

        async def guess(store: int, staff: int, round_: int) -> None:
            rule = ThrottleRule(
                ((f"staff:{staff}", UNLIMITED), (f"store:{store}", UNLIMITED), ("scans", UNLIMITED)), 300
            )
            for _ in range(GUESSES):
                outcome = await raw.ledger.redeem(
                    RedeemRequest(
                        digest=os.urandom(16),
                        medium="print",
                        now=START + timedelta(minutes=5 * round_),  # a new window: new counter rows
                        store_id=store,
                        staff_id=staff,
                        order_total=None,
                        idempotency=None,
                        throttle=rule,
                    )
                )
                statuses[outcome.status] += 1

        for round_ in range(ROUNDS):
            await asyncio.gather(*(guess(store, staff, round_) for store, staff in tills))
    finally:
        await raw.close()
    assert statuses == {404: ROUNDS * GUESSES * len(tills)}, statuses
