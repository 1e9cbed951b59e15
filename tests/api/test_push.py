"""Web Push end to end without Google: subscriptions through the API, notifications through the
outbox to a local push service that verifies the VAPID JWT and decrypts every message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tessera.app import create_app
from tessera.core.clock import FrozenClock
from tessera.core.settings import Settings, WorkerSettings
from tests.fakes.push import FakePushService, running_fake_push
from tests.support.api import Api, problem
from tests.support.background import run_worker
from tests.support.push import subscribe, wait_settled


@pytest.fixture
def push_service(settings: Settings) -> Iterator[FakePushService]:
    with running_fake_push(settings.push.vapid_public_key) as fake:
        yield fake


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, worker=WorkerSettings(embedded=True, poll_seconds=0.02, jobs_every_seconds=0.05))


async def test_new_offer_and_reminder_reach_consenting_subscribers_once(
    api: Api, push_service: FakePushService, settings: Settings
) -> None:
    key = await api.client.get("/api/push/vapid-public-key")
    assert key.json() == {"public_key": settings.push.vapid_public_key}
    _, anna = await api.customer(consent={"terms": True, "marketing": True, "push": True}, locale="it-IT")
    _, bela = await api.customer(consent={"terms": True, "marketing": True, "push": False})
    _, chiara = await api.customer(consent={"terms": True, "marketing": True, "push": True})
    await subscribe(api, anna, push_service.add("anna-phone").subscription(push_service.url))
    await subscribe(api, anna, push_service.add("anna-laptop").subscription(push_service.url))
    await subscribe(api, bela, push_service.add("bela").subscription(push_service.url))
    await subscribe(api, chiara, push_service.add("chiara").subscription(push_service.url))
    push_service.gone.add("chiara")

    campaign = await api.campaign(name="Pizza night")
    await api.publish(campaign["id"])
    await wait_settled(api)
    assert push_service.refused == []
    (coupon,) = await api.coupons(anna)
    for device in ("anna-phone", "anna-laptop"):
        (message,) = push_service.messages(device)
        assert message["kind"] == "new_offer"
        assert message["title"] == "Nuovo coupon: Pizza night"
        assert message["url"] == f"/#coupon-{coupon['id']}"
    assert push_service.messages("bela") == []  # no push consent: nothing sent
    # Each delivered message is a "notified" event, written with the delivery's completion.
    notified = await api.sql(
        "SELECT coupon_id, channel, count(*) FROM events WHERE type = 'notified' GROUP BY coupon_id, channel"
    )
    assert [tuple(row) for row in notified] == [(coupon["id"], "pwa", 2)]
    (delivered,) = [item for item in push_service.delivered if item.subscriber == "anna-phone"]
    assert delivered.headers["ttl"] == str(settings.push.ttl_seconds)
    assert delivered.headers["urgency"] == "normal"
    # The push service said 410 for Chiara's subscription: it is gone.
    endpoints = await api.sql("SELECT endpoint FROM push_subscriptions ORDER BY id")
    assert [row[0].rsplit("/", 1)[1] for row in endpoints] == ["anna-phone", "anna-laptop", "bela"]

    # Publishing again announces nothing new; a reminder comes once before expiry (7-day coupon).
    await api.publish(campaign["id"])
    api.clock.advance(timedelta(days=6, hours=1))
    for _ in range(750):
        if len(push_service.messages("anna-phone")) == 2:
            break
        await asyncio.sleep(0.02)
    await wait_settled(api)
    reminders = [m for m in push_service.messages("anna-phone") if m["kind"] == "expiry_reminder"]
    assert len(reminders) == 1
    assert reminders[0]["title"] == "Il tuo coupon sta per scadere"
    assert len(push_service.messages("anna-phone")) == 2


async def test_a_redeemed_coupon_gets_no_reminder(api: Api, push_service: FakePushService) -> None:
    customer_id, customer = await api.customer(consent={"terms": True, "marketing": True, "push": True})
    await subscribe(api, customer, push_service.add("phone").subscription(push_service.url))
    campaign = await api.campaign()
    await api.publish(campaign["id"])
    await wait_settled(api)
    (coupon,) = await api.coupons(customer)
    staff = await api.staff()
    assert (await api.redeem(staff, coupon["qr_payload"])).status_code == 201
    api.clock.advance(timedelta(days=6, hours=1))
    await asyncio.sleep(0.3)  # several job runs
    await wait_settled(api)
    assert [m["kind"] for m in push_service.messages("phone")] == ["new_offer"]
    assert customer_id


async def test_unsubscribe_and_bad_subscriptions(api: Api, push_service: FakePushService) -> None:
    _, customer = await api.customer(consent={"terms": True, "marketing": True, "push": True})
    subscription = push_service.add("phone").subscription(push_service.url)
    await subscribe(api, customer, subscription)
    bad = {**subscription, "keys": {"p256dh": "short", "auth": "x"}}
    problem(
        await api.client.post("/api/me/push-subscriptions", json=bad, headers=customer), 400, "invalid_input"
    )
    ftp = {**subscription, "endpoint": "ftp://example.com/x"}
    problem(
        await api.client.post("/api/me/push-subscriptions", json=ftp, headers=customer), 422, "invalid_value"
    )
    problem(await api.client.post("/api/me/push-subscriptions", json=subscription), 401, "not_authenticated")
    removed = await api.client.delete("/api/me/push-subscriptions", headers=customer)
    assert removed.status_code == 204
    assert await api.sql("SELECT count(*) FROM push_subscriptions") == [(0,)]


async def test_429_waits_for_retry_after_then_delivers_once(api: Api, push_service: FakePushService) -> None:
    _, customer = await api.customer(consent={"terms": True, "marketing": True, "push": True})
    await subscribe(api, customer, push_service.add("phone").subscription(push_service.url))
    push_service.throttled["phone"] = 600
    await api.publish((await api.campaign())["id"])
    for _ in range(500):
        if push_service.throttled_at:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # several worker polls: none may retry before Retry-After
    assert push_service.throttled_at == ["phone"]
    assert push_service.messages("phone") == []
    ((attempts, available_at, created_at),) = await api.sql(
        "SELECT attempts, available_at, created_at FROM outbox WHERE topic = 'push_new_offer'"
    )
    assert attempts == 1
    waited = _as_datetime(available_at) - _as_datetime(created_at)
    assert timedelta(seconds=600) <= waited < timedelta(seconds=700)

    assert await api.sql("SELECT count(*) FROM events WHERE type = 'notified'") == [(0,)]
    api.clock.advance(timedelta(seconds=601))
    await wait_settled(api)
    assert [m["kind"] for m in push_service.messages("phone")] == ["new_offer"]
    assert await api.sql("SELECT count(*) FROM events WHERE type = 'notified'") == [(1,)]


async def test_two_app_processes_never_send_a_notification_twice(
    api: Api, push_service: FakePushService, settings: Settings, clock: FrozenClock
) -> None:
    """A second app with its own embedded worker on the same database: every message once."""
    names = [f"device-{number}" for number in range(30)]
    for name in names:
        _, customer = await api.customer(consent={"terms": True, "marketing": True, "push": True})
        await subscribe(api, customer, push_service.add(name).subscription(push_service.url))
    async with AsyncTestClient(app=create_app(settings, clock)):
        await api.publish((await api.campaign())["id"])
        await wait_settled(api)
    assert sorted(item.subscriber for item in push_service.delivered) == sorted(names)


def _as_datetime(value: Any) -> datetime:
    """SQLite hands back text, PostgreSQL a datetime."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


async def test_a_used_up_coupon_is_neither_announced_nor_reminded_until_usable_again(
    push_service: FakePushService, settings: Settings, clock: FrozenClock
) -> None:
    """The campaign's one redemption goes to Anna before the worker delivers: Bela's coupon is
    used up, so her queued new-offer push is dropped and the reminder job passes her coupon by;
    once a void frees the offer, her reminder comes."""
    quiet = replace(settings, worker=WorkerSettings(embedded=False))
    async with AsyncTestClient(app=create_app(quiet, clock)) as client:
        api = Api(client, clock, quiet)
        consent = {"terms": True, "marketing": True, "push": True}
        _, anna = await api.customer(consent=consent)
        _, bela = await api.customer(consent=consent)
        await subscribe(api, anna, push_service.add("anna").subscription(push_service.url))
        await subscribe(api, bela, push_service.add("bela").subscription(push_service.url))
        campaign = await api.campaign(limits={"per_customer": None, "max_redemptions": 1})
        await api.publish(campaign["id"])
        (annas,) = await api.coupons(anna)
        (belas,) = await api.coupons(bela)
        staff = await api.staff()
        redeemed = await api.redeem(staff, annas["code"])
        assert redeemed.status_code == 201, redeemed.text
        assert (await api.coupons(bela))[0]["status"] == "used_up"

        await run_worker(quiet, clock)
        assert push_service.delivered == []
        clock.advance(timedelta(days=6, hours=1))
        await run_worker(quiet, clock)
        assert push_service.delivered == []
        reminded = await api.sql("SELECT push_reminded_at FROM coupons WHERE id = :c", c=belas["id"])
        assert reminded == [(None,)]

        # A week on, the staff login has ended: a colleague at the same store voids.
        colleague = await api.staff(redeemed.json()["store_id"])
        void = await api.client.post(f"/api/redemptions/{redeemed.json()['id']}/void", headers=colleague)
        assert void.status_code == 200, void.text
        await run_worker(quiet, clock)
    assert [m["kind"] for m in push_service.messages("bela")] == ["expiry_reminder"]
    assert [m["kind"] for m in push_service.messages("anna")] == ["expiry_reminder"]
