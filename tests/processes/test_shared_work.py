"""Background work shared between processes: two workers, each with its own engines and pools
as separate processes have, run each periodic job at the same moment as the other, and each
piece of work is done once — none twice, none lost."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest

from tessera.assembly.context import open_context
from tessera.assembly.services import build_services
from tessera.codes.bulk_writers import BATCH_LOCK_SPACE, PostgresChunkWriter
from tessera.core.clock import FrozenClock
from tessera.core.settings import Settings
from tessera.http.context import AppContext
from tessera.models.campaigns import Campaign
from tessera.models.codes import CodeBatch
from tessera.models.wallet_apple import AppleDevice, AppleRegistration
from tessera.outbox.worker import OutboxWorker
from tessera.push.services import EXPIRY_REMINDER
from tessera.redemptions.ledger_postgres import create_pool
from tessera.wallet.changes import APPLE_PUSH
from tessera.worker import worker_for
from tests.support.api import Api

CUSTOMERS = 6
PRINT_CODES = 12_000


async def _worker(stack: AsyncExitStack, settings: Settings, clock: FrozenClock) -> OutboxWorker:
    """The worker of one more "process": its own context (engines, pools, bulk-code tasks)."""
    ctx = await stack.enter_async_context(open_context(settings, clock))
    stack.push_async_callback(ctx.bulk_codes.stop)
    return await stack.enter_async_context(worker_for(ctx, build_services(ctx)))


async def _saved_on_apple_devices(ctx: AppContext, coupon_ids: list[int], clock: FrozenClock) -> None:
    async with ctx.sessions.begin() as session:
        for number, coupon_id in enumerate(coupon_ids):
            device = AppleDevice(
                library_id=f"library-{number}",
                push_token=f"token-{number}",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
            session.add(device)
            await session.flush()
            session.add(AppleRegistration(device_id=device.id, coupon_id=coupon_id, created_at=clock.now()))


async def _finished(ctx: AppContext, batch_id: int) -> bool:
    async with ctx.readers() as session:
        batch = await session.get(CodeBatch, batch_id)
        return batch is not None and batch.finished_at is not None


async def test_two_workers_running_every_job_at_once_do_each_thing_once(
    api: Api, settings: Settings, clock: FrozenClock
) -> None:
    push = {"terms": True, "marketing": True, "push": True}
    customers = [(await api.customer(consent=push))[1] for _ in range(CUSTOMERS)]
    keys = {"p256dh": "B" * 87, "auth": "A" * 22}
    for number, customer in enumerate(customers):
        subscribed = await api.client.post(
            "/api/me/push-subscriptions",
            json={"endpoint": f"https://push.example/{number}", "keys": keys},
            headers=customer,
        )
        assert subscribed.status_code == 201, subscribed.text
    week = await api.campaign(coupon_valid_days=7)
    day = await api.campaign(name="One day", coupon_valid_days=1)
    await api.publish(week["id"])
    await api.publish(day["id"])
    week_coupons = [
        coupon["id"]
        for customer in customers
        for coupon in await api.coupons(customer)
        if coupon["campaign"]["id"] == week["id"]
    ]
    async with AsyncExitStack() as stack:
        ctx = await stack.enter_async_context(open_context(settings, clock))
        await _saved_on_apple_devices(ctx, week_coupons, clock)
        # Print codes whose process stopped before writing any: reserved, never written.
        async with ctx.sessions.begin() as session:
            campaign = await session.get(Campaign, week["id"])
            assert campaign is not None
            batch_id = (await ctx.bulk_codes.reserve(session, campaign, PRINT_CODES, "print", clock.now())).id

        # Six days on, the week coupons are inside the expiry notice (48 h) and reminder (24 h)
        # windows and the one-day coupons have expired.
        clock.advance(timedelta(days=6, hours=1))
        first = await _worker(stack, settings, clock)
        second = await _worker(stack, settings, clock)
        for job, its_twin in zip(first.jobs, second.jobs, strict=True):
            await asyncio.gather(job(), its_twin())
        for _ in range(600):  # the process that claimed the batch writes it in the background
            if await _finished(ctx, batch_id):
                break
            await asyncio.sleep(0.05)

    queued = await api.sql("SELECT topic, count(*), count(DISTINCT coupon_id) FROM outbox GROUP BY topic")
    counts = {topic: (rows, coupons) for topic, rows, coupons in queued}
    assert counts[APPLE_PUSH] == (CUSTOMERS, CUSTOMERS)  # one "expires soon" push per saved pass
    assert counts[EXPIRY_REMINDER] == (CUSTOMERS, CUSTOMERS)  # one reminder per subscription
    expired = await api.sql("SELECT count(*), count(DISTINCT coupon_id) FROM events WHERE type = 'expired'")
    assert tuple(expired[0]) == (CUSTOMERS, CUSTOMERS)
    written = await api.sql(
        "SELECT count(*), count(DISTINCT serial) FROM coupons WHERE origin = :batch",
        batch=f"batch:{batch_id}",
    )
    assert tuple(written[0]) == (PRINT_CODES, PRINT_CODES)
    issued = await api.sql(
        "SELECT sum(quantity) FROM events WHERE type = 'issued' AND channel = 'print' AND campaign_id = :c",
        c=week["id"],
    )
    assert issued[0][0] == PRINT_CODES


@pytest.mark.postgres
async def test_a_code_batch_is_claimed_by_one_process_and_freed_when_that_process_dies(
    postgres_url: str,
) -> None:
    dsn = "postgresql://" + postgres_url.split("://", 1)[1]
    first_pool, second_pool = await create_pool(dsn, 3), await create_pool(dsn, 3)
    first, second = PostgresChunkWriter(first_pool), PostgresChunkWriter(second_pool)
    try:
        async with first.claim(41) as ours, second.claim(41) as theirs, second.claim(42) as other:
            assert (ours, theirs, other) == (True, False, True)
        async with second.claim(41) as theirs:
            assert theirs  # the first process finished: free again

        holding = asyncio.Event()

        async def write_until_killed() -> None:
            async with second.claim(41) as theirs:
                assert theirs
                holding.set()
                await asyncio.Future()  # writing …

        writing = asyncio.create_task(write_until_killed())
        await holding.wait()
        async with first.claim(41) as ours:
            assert not ours
        # The database session of the process writing the batch ends (the process died).
        killed = await first_pool.fetchval(
            "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_locks WHERE locktype = 'advisory' "
            "AND granted AND classid::bigint = $1 AND objid::bigint = 41 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            BATCH_LOCK_SPACE,
        )
        assert killed == 1
        async with first.claim(41) as ours:
            assert ours
        writing.cancel()
        await asyncio.gather(writing, return_exceptions=True)
    finally:
        await first_pool.close()
        second_pool.terminate()
