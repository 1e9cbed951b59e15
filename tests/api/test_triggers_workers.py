"""The trigger jobs in several processes and through a crash: two workers (each with its own
engines and pools, as separate processes have) running every job at the same moment issue each
coupon once, and a worker that dies in the middle of a batch leaves the whole batch to the next."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

import tessera.triggers.issuing
from tessera.core.clock import FrozenClock
from tessera.core.settings import Settings
from tessera.triggers.events import CURSOR
from tessera.worker import event_triggers_of
from tests.support.api import Api
from tests.support.background import SETTLE, background, run_worker, until

CUSTOMERS = 24


async def _coupons_per_customer(api: Api, campaign_id: int) -> list[tuple[int, int, int]]:
    """(customer, coupons, issued events) of one campaign."""
    rows = await api.sql(
        "SELECT c.customer_id, count(DISTINCT c.id), "
        "(SELECT count(*) FROM events e WHERE e.type = 'issued' AND e.campaign_id = :c "
        " AND e.customer_id = c.customer_id) "
        "FROM coupons c WHERE c.campaign_id = :c GROUP BY c.customer_id ORDER BY c.customer_id",
        c=campaign_id,
    )
    return [tuple(row) for row in rows]


async def test_two_workers_running_the_trigger_jobs_at_once_issue_each_coupon_once(
    api: Api, settings: Settings, clock: FrozenClock
) -> None:
    start = clock.now()
    later = start + timedelta(days=2)
    ordinary = await api.campaign(name="Ordinary", coupon_valid_days=30)
    triggered = {
        "welcome": await api.campaign(name="Welcome", trigger={"kind": "on_registration"}),
        "next": await api.campaign(
            name="Next", trigger={"kind": "on_redemption", "campaign_id": ordinary["id"]}
        ),
        "winback": await api.campaign(name="Win-back", trigger={"kind": "inactive_for", "days": 1}),
        "birthday": await api.campaign(name="Birthday", trigger={"kind": "birthday"}),
    }
    for campaign in (ordinary, *triggered.values()):
        await api.publish(campaign["id"])
    consent = {"terms": True, "marketing": True, "push": True}
    customers = [
        await api.customer(consent=consent, birthday=f"1990-{later:%m-%d}") for _ in range(CUSTOMERS)
    ]
    keys = {"p256dh": "B" * 87, "auth": "A" * 22}
    for number, (_, customer) in enumerate(customers):
        subscribed = await api.client.post(
            "/api/me/push-subscriptions",
            json={"endpoint": f"https://push.example/{number}", "keys": keys},
            headers=customer,
        )
        assert subscribed.status_code == 201, subscribed.text
    staff = await api.staff()
    redeemers = customers[: CUSTOMERS // 2]
    for _, customer in redeemers:
        (coupon,) = await api.coupons(customer)
        assert (await api.redeem(staff, coupon["code"])).status_code == 201

    clock.set(later)  # everyone inactive for two days, and it is their birthday
    async with background(settings, clock) as first, background(settings, clock) as second:
        newest = await first.newest_event()

        async def both() -> None:
            for job, its_twin in zip(first.worker.jobs, second.worker.jobs, strict=True):
                await asyncio.gather(job(), its_twin())
            clock.advance(SETTLE)

        await until(lambda: first.followed_to(newest), both)
        await both()  # and once more, with nothing left to do

    everyone = sorted(customer_id for customer_id, _ in customers)
    redeemed = sorted(customer_id for customer_id, _ in redeemers)
    once = {name: [(c, 1, 1) for c in everyone] for name in ("welcome", "winback", "birthday")}
    once["next"] = [(c, 1, 1) for c in redeemed]
    for name, campaign in triggered.items():
        assert await _coupons_per_customer(api, campaign["id"]) == once[name], name
    # One new-offer push per triggered coupon (each customer has one subscription).
    queued = await api.sql(
        "SELECT count(*), count(DISTINCT coupon_id) FROM outbox o JOIN coupons c ON c.id = o.coupon_id "
        "WHERE o.topic = 'push_new_offer' AND c.origin = 'trigger'"
    )
    issued = CUSTOMERS * 3 + len(redeemers)
    assert tuple(queued[0]) == (issued, issued)


class PowerCut(Exception):
    """The process stops dead: nothing after this point of the transaction happens."""


async def test_a_worker_that_dies_mid_batch_leaves_the_whole_batch_to_the_next(
    api: Api, settings: Settings, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    welcome = await api.campaign(name="Welcome", trigger={"kind": "on_registration"})
    await api.publish(welcome["id"])
    customers = [(await api.customer())[0] for _ in range(5)]
    real_issue = tessera.triggers.issuing.issue_coupons

    async def issue_then_die(*args: Any, **kwargs: Any) -> Any:
        await real_issue(*args, **kwargs)  # coupons, events and pushes written, not committed
        raise PowerCut

    monkeypatch.setattr(tessera.triggers.issuing, "issue_coupons", issue_then_die)
    async with background(settings, clock) as work:
        job = event_triggers_of(work.ctx)
        died = False

        async def until_it_dies() -> None:
            nonlocal died
            try:
                await job.run()
            except PowerCut:
                died = True
            clock.advance(SETTLE)

        async def has_died() -> bool:
            return died

        await until(has_died, until_it_dies)
    assert await api.sql("SELECT count(*) FROM coupons WHERE campaign_id = :c", c=welcome["id"]) == [(0,)]
    assert await api.sql(
        "SELECT count(*) FROM events WHERE type = 'issued' AND campaign_id = :c", c=welcome["id"]
    ) == [(0,)]
    assert await api.sql("SELECT position FROM event_cursors WHERE name = :n", n=CURSOR) == [(0,)]

    monkeypatch.undo()
    await run_worker(settings, clock, restarts=1)
    assert await _coupons_per_customer(api, welcome["id"]) == [(c, 1, 1) for c in customers]
