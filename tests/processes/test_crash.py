"""A real server process SIGKILLed several times under load and started again on the same port.

Redemptions: no acknowledged redemption is lost, none is made twice, and every key replays its
first answer. Web Push: every notification reaches the push service, and the only ones it gets
twice were in flight (claimed, not yet recorded as delivered) when the process died; a stop
(SIGTERM) sends nothing twice. The long run is ``scripts/crash_redeem.py``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from scripts.crash_harness import CrashLoad, KillableServer, check, marketer_key, poll, seed_codes, sql
from sqlalchemy import select

from tessera.core.db.engine import create_engine
from tessera.core.settings import Settings
from tessera.models.outbox import OutboxMessage
from tessera.models.push import PushSubscription
from tessera.push.services import NEW_OFFER
from tests.fakes.push import Delivered, FakePushService, running_fake_push
from tests.support.api import publish_and_wait
from tests.support.servers import crash_env, free_port

pytestmark = pytest.mark.slow

CODES = 400
KILLS = 3
STOPS = 2
SUBSCRIBERS = 300
PUSH_BATCH = 50  # rows one worker claims at a time: the most a kill can leave in flight
LEASE_SECONDS = 2  # how long a dead process's claims keep their rows from the next worker


async def test_sigkill_under_load_loses_no_acknowledged_redemption_and_doubles_none(
    settings: Settings, tmp_path: Path
) -> None:
    server = KillableServer(crash_env(settings, tmp_path), free_port(), tmp_path / "server.log")
    await server.start()
    try:
        seeded = await seed_codes(server.url, await marketer_key(settings.database.url), CODES)
        load = CrashLoad([server], seeded, concurrency=32, seconds=120)
        await load.run(kills=KILLS)
        findings = await check(settings.database.url, seeded.campaign_id, load)
    finally:
        await server.stop()
    figures = load.figures
    assert server.kills == KILLS
    # Each kill cut requests off mid-flight, and those were asked again with their keys.
    assert len(figures.interrupted) == KILLS
    assert all(in_flight > 0 for in_flight in figures.interrupted), figures
    assert figures.no_answer > 0
    assert figures.retried > 0
    assert findings.details == []
    assert (findings.refused, findings.lost, findings.doubled, findings.unannounced) == (0, 0, 0, 0)
    assert findings.replay_mismatches == 0
    assert figures.acknowledged == findings.redemption_rows == CODES
    unredeemed = await sql(
        settings.database.url,
        "SELECT count(*) FROM coupons WHERE campaign_id = :campaign AND redeemed_at IS NULL",
        campaign=seeded.campaign_id,
    )
    assert unredeemed == [(0,)]
    redeemed_events = await sql(
        settings.database.url,
        "SELECT count(*) FROM events WHERE type = 'redeemed' AND campaign_id = :campaign",
        campaign=seeded.campaign_id,
    )
    assert redeemed_events == [(CODES,)]  # one event per redemption, written with it


@dataclass(frozen=True)
class Row:
    id: int
    subscriber: str
    coupon_id: int
    attempts: int
    claimed: bool
    delivered_at: datetime | None
    failed_at: datetime | None


async def outbox_rows(settings: Settings) -> dict[int, Row]:
    """The notification rows, with the subscriber each one goes to."""
    engine = create_engine(settings.database)
    try:
        async with engine.connect() as connection:
            names = {
                subscription_id: endpoint.rsplit("/", 1)[1]
                for subscription_id, endpoint in await connection.execute(
                    select(PushSubscription.id, PushSubscription.endpoint)
                )
            }
            rows = await connection.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.target,
                    OutboxMessage.coupon_id,
                    OutboxMessage.attempts,
                    OutboxMessage.claimed_until,
                    OutboxMessage.delivered_at,
                    OutboxMessage.failed_at,
                ).where(OutboxMessage.topic == NEW_OFFER)
            )
            return {
                row_id: Row(
                    row_id, names[int(target)], coupon_id, attempts, claimed is not None, done, failed
                )
                for row_id, target, coupon_id, attempts, claimed, done, failed in rows
            }
    finally:
        await engine.dispose()


async def subscribe_customers(client: httpx.AsyncClient, fake: FakePushService, count: int) -> None:
    """``count`` customers who consent to push, each with one subscription at the fake."""
    slots = asyncio.Semaphore(16)

    async def one(number: int) -> None:
        async with slots:
            registered = await client.post(
                "/api/customers",
                json={
                    "email": f"crash{number}@example.com",
                    "consent": {"terms": True, "marketing": True, "push": True},
                },
            )
            assert registered.status_code == 201, registered.text
            subscription = fake.add(f"device-{number}").subscription(fake.url)
            headers = {"Authorization": f"Bearer {registered.json()['token']}"}
            subscribed = await client.post("/api/me/push-subscriptions", json=subscription, headers=headers)
            assert subscribed.status_code == 201, subscribed.text

    async with asyncio.TaskGroup() as group:
        for number in range(count):
            group.create_task(one(number))


async def publish_campaign(client: httpx.AsyncClient, key: str) -> None:
    marketer = {"Authorization": f"Bearer {key}"}
    now = datetime.now(UTC)
    campaign = await client.post(
        "/api/campaigns",
        headers=marketer,
        json={
            "name": "Crash night",
            "discount": {"kind": "percent", "value": 20},
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
            "coupon_valid_days": 7,
            "limits": {"per_customer": 1},
        },
    )
    assert campaign.status_code == 201, campaign.text
    assert (await publish_and_wait(client, marketer, campaign.json()["id"]))["status"] == "done"


def distinct(fake: FakePushService) -> int:
    """How many different notifications the push service has got."""
    return len({(item.subscriber, item.message["coupon_id"]) for item in list(fake.delivered)})


@dataclass
class AtKill:
    """The outbox as a killed process left it, and how much the push service had got by then."""

    received: int  # length of the push service's log
    delivered: set[int]  # rows recorded as delivered
    in_flight: set[int]  # rows the killed process had claimed and not recorded


@dataclass
class Publishing:
    server: KillableServer
    fake: FakePushService


@asynccontextmanager
async def publishing(settings: Settings, tmp_path: Path, **extra: str) -> AsyncIterator[Publishing]:
    """A server with ``SUBSCRIBERS`` subscribed customers and the fake push service, just after a
    publish queued a notification for each of them; the worker polls fast, in batches of
    ``PUSH_BATCH``."""
    worker = {"WORKER_POLL_SECONDS": "0.02", "OUTBOX_BATCH_SIZE": str(PUSH_BATCH)}
    env = crash_env(settings, tmp_path, REGISTRATIONS_PER_ADDRESS="100000", **worker, **extra)
    with running_fake_push(settings.push.vapid_public_key) as fake:
        server = KillableServer(env, free_port(), tmp_path / "server.log")
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                await subscribe_customers(client, fake, SUBSCRIBERS)
                await publish_campaign(client, await marketer_key(settings.database.url))
            yield Publishing(server, fake)
        finally:
            await server.stop()


async def settled(settings: Settings) -> bool:
    """Every notification delivered or given up."""
    rows = await outbox_rows(settings)
    return all(row.delivered_at or row.failed_at for row in rows.values())


async def test_sigkill_during_push_delivery_sends_each_notification_and_repeats_only_in_flight_ones(
    settings: Settings, tmp_path: Path
) -> None:
    kills: list[AtKill] = []
    async with publishing(settings, tmp_path, OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS)) as run:
        claims: dict[int, int] = {}  # row → attempts, of the rows claimed and not recorded
        for number in range(1, KILLS + 1):
            # Killed as the push service gets a new message: a batch is being delivered.
            threshold = SUBSCRIBERS * number // (KILLS + 1)
            await poll(lambda t=threshold: distinct(run.fake) >= t, 60, f"{threshold} notifications", 0.002)
            await run.server.kill()
            rows = await outbox_rows(settings)
            # A row the killed process claimed has one attempt more than at the last kill.
            pending = {row.id: row.attempts for row in rows.values() if row.claimed and not row.delivered_at}
            in_flight = {row_id for row_id, attempts in pending.items() if claims.get(row_id) != attempts}
            claims = pending
            delivered = {row.id for row in rows.values() if row.delivered_at is not None}
            kills.append(AtKill(len(run.fake.delivered), delivered, in_flight))
            await run.server.start()
        await poll(lambda: settled(settings), 60, "the outbox to settle", 0.05)
    assert run.fake.refused == []
    _check_push(await outbox_rows(settings), list(run.fake.delivered), kills)
    notified = await sql(settings.database.url, "SELECT count(*) FROM events WHERE type = 'notified'")
    assert notified == [(SUBSCRIBERS,)]  # recorded once per notification, with its delivery


async def test_a_stop_during_push_delivery_repeats_nothing_and_holds_nothing_back(
    settings: Settings, tmp_path: Path
) -> None:
    """SIGTERM is no crash: the worker finishes and records the deliveries under way and hands
    the rest of its batch back, so nothing is sent twice and nothing waits for the lease (left
    at its default of five minutes)."""
    async with publishing(settings, tmp_path) as run:
        for number in range(1, STOPS + 1):
            threshold = SUBSCRIBERS * number // (STOPS + 1)
            await poll(lambda t=threshold: distinct(run.fake) >= t, 60, f"{threshold} notifications", 0.002)
            await run.server.stop()
            rows = await outbox_rows(settings)
            assert [row.id for row in rows.values() if row.claimed and not row.delivered_at] == []
            await run.server.start()
        await poll(lambda: settled(settings), 60, "the outbox to settle", 0.05)
    rows = await outbox_rows(settings)
    assert all(row.delivered_at is not None for row in rows.values())
    assert sorted(item.subscriber for item in run.fake.delivered) == sorted(
        row.subscriber for row in rows.values()
    )
    assert len(rows) == SUBSCRIBERS


def _check_push(rows: dict[int, Row], received: list[Delivered], kills: list[AtKill]) -> None:
    assert len(rows) == SUBSCRIBERS  # one notification per subscription
    assert all(row.delivered_at is not None and row.failed_at is None for row in rows.values())
    row_of = {(row.subscriber, row.coupon_id): row.id for row in rows.values()}
    arrivals: dict[int, list[tuple[int, Delivered]]] = defaultdict(list)
    for position, item in enumerate(received):
        assert item.message["kind"] == "new_offer"
        arrivals[row_of[(item.subscriber, item.message["coupon_id"])]].append((position, item))
    # Every subscription got its notification.
    assert set(arrivals) == set(rows)

    # A kill leaves at most the batch being delivered in flight. The first kill comes after more
    # than a batch was delivered, so it finds rows recorded as delivered (checked below).
    assert len(kills) == KILLS
    assert all(len(kill.in_flight) <= PUSH_BATCH for kill in kills), [k.in_flight for k in kills]
    assert any(kill.in_flight for kill in kills)
    assert kills[0].delivered

    for row_id, items in arrivals.items():
        row = rows[row_id]
        assert row.delivered_at is not None
        # Nothing recorded as delivered is sent again ...
        late = [item for _, item in items if item.received_at > row.delivered_at]
        assert late == [], f"row {row_id} delivered at {row.delivered_at} was sent again: {late}"
        for number, kill in enumerate(kills):
            if row_id in kill.delivered:
                again = [position for position, _ in items if position >= kill.received]
                assert again == [], f"row {row_id}, delivered before kill {number}, arrived again"
        # ... and a message arrives more than once only after a kill caught it in flight.
        caught = sum(row_id in kill.in_flight for kill in kills)
        assert len(items) <= 1 + caught, (row_id, len(items), caught)
    repeated = sum(len(items) - 1 for items in arrivals.values())
    assert repeated <= sum(len(kill.in_flight) for kill in kills)
