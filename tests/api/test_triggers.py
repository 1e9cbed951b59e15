"""Triggered campaigns, one test per trigger: the worker (driven by hand under a frozen clock)
issues each coupon exactly once — also when run again and after a restart — only with marketing
consent, inside the campaign's window and segment, and notifies through Web Push only with push
consent (to a local push service that decrypts every message)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tessera.core.clock import FrozenClock
from tessera.core.settings import Settings
from tests.fakes.push import FakePushService, running_fake_push
from tests.support.api import Api, Headers, iso
from tests.support.background import run_worker

PUSH = {"terms": True, "marketing": True, "push": True}
NO_PUSH = {"terms": True, "marketing": True, "push": False}


@pytest.fixture
def push_service(settings: Settings) -> Iterator[FakePushService]:
    with running_fake_push(settings.push.vapid_public_key) as fake:
        yield fake


async def holders(api: Api, campaign_id: int) -> dict[int, int]:
    """Coupons of the campaign per customer, and the ``issued`` events must agree."""
    coupons = await api.sql(
        "SELECT customer_id, count(*) FROM coupons WHERE campaign_id = :c GROUP BY customer_id", c=campaign_id
    )
    events = await api.sql(
        "SELECT customer_id, count(*) FROM events WHERE type = 'issued' AND campaign_id = :c "
        "GROUP BY customer_id",
        c=campaign_id,
    )
    held = {customer: count for customer, count in coupons}
    assert held == {customer: count for customer, count in events}
    return held


async def subscribe(api: Api, customer: Headers, push_service: FakePushService, device: str) -> None:
    subscription = push_service.add(device).subscription(push_service.url)
    response = await api.client.post("/api/me/push-subscriptions", json=subscription, headers=customer)
    assert response.status_code == 201, response.text


async def coupon_of(api: Api, customer: Headers, campaign_id: int) -> dict[str, Any]:
    (coupon,) = [c for c in await api.coupons(customer) if c["campaign"]["id"] == campaign_id]
    return coupon


def titles(push_service: FakePushService, device: str) -> list[str]:
    return [message["title"] for message in push_service.messages(device)]


async def test_welcome_coupon_follows_the_registration_once(
    api: Api, settings: Settings, clock: FrozenClock, push_service: FakePushService
) -> None:
    now = clock.now()
    welcome = await api.campaign(
        name="Welcome",
        trigger={"kind": "on_registration"},
        segment={"tags_any": ["vip"]},
        starts_at=iso(now + timedelta(hours=1)),
        ends_at=iso(now + timedelta(days=10)),
    )
    assert welcome["trigger"] == {"kind": "on_registration"}
    await api.customer(tags=["vip"])  # not switched on yet
    switched_on = await api.publish(welcome["id"])
    assert (switched_on["status"], switched_on["eligible"], switched_on["issued"]) == ("done", 0, 0)
    await api.customer(tags=["vip"])  # switched on, not started
    await run_worker(settings, clock)

    clock.advance(timedelta(hours=2))
    registered = await api.client.post(
        "/api/customers",
        json={"email": "anna@example.com", "consent": PUSH, "tags": ["vip"], "locale": "it-IT"},
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["coupons_issued"] == 0  # the worker issues it, from the event
    anna_id = registered.json()["id"]
    anna = {"Authorization": f"Bearer {registered.json()['token']}"}
    await subscribe(api, anna, push_service, "anna")
    bela_id, bela = await api.customer(tags=["vip"], consent=NO_PUSH)
    await subscribe(api, bela, push_service, "bela")
    await api.customer(tags=["vip"], marketing=False)
    await api.customer(tags=["regular"])
    await run_worker(settings, clock, restarts=2)
    await run_worker(settings, clock)

    assert await holders(api, welcome["id"]) == {anna_id: 1, bela_id: 1}
    coupon = await coupon_of(api, anna, welcome["id"])
    assert (coupon["status"], coupon["channel"]) == ("active", "pwa")
    assert titles(push_service, "anna") == ["Ti diamo il benvenuto! Un coupon per te: Welcome"]
    assert push_service.messages("anna")[0]["coupon_id"] == coupon["id"]
    assert titles(push_service, "bela") == []  # no push consent

    clock.set(datetime.fromisoformat(welcome["ends_at"]) + timedelta(hours=1))
    await api.customer(tags=["vip"])  # after the end
    await run_worker(settings, clock)
    assert await holders(api, welcome["id"]) == {anna_id: 1, bela_id: 1}


async def test_redeeming_a_step_issues_the_next_step_once(
    api: Api, settings: Settings, clock: FrozenClock, push_service: FakePushService
) -> None:
    now = clock.now()
    first = await api.campaign(name="Step 1")
    gold = {"tags": ["gold"]}
    anna_id, anna = await api.customer(consent=PUSH, **gold)
    await subscribe(api, anna, push_service, "anna")
    _, bela = await api.customer(consent=PUSH, **gold)  # withdraws marketing consent
    _, carl = await api.customer(tags=["silver"])
    _, dora = await api.customer(**gold)  # redeems before the next step is switched on
    _, eva = await api.customer(**gold)  # redeems after the next step has ended
    await api.publish(first["id"])
    second = await api.campaign(
        name="Step 2",
        trigger={"kind": "on_redemption", "campaign_id": first["id"]},
        segment={"tags_any": ["gold"]},
        starts_at=iso(now + timedelta(hours=1)),
        ends_at=iso(now + timedelta(days=5)),
    )
    store = await api.store()
    staff = await api.staff(store)

    async def redeem(customer: Headers) -> dict[str, Any]:
        response = await api.redeem(staff, (await coupon_of(api, customer, first["id"]))["code"])
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    await redeem(dora)
    await api.publish(second["id"])
    clock.advance(timedelta(hours=2))
    withdrawn = await api.client.patch("/api/me", json={"consent": {"marketing": False}}, headers=bela)
    assert withdrawn.status_code == 200, withdrawn.text
    anna_redemption = await redeem(anna)
    await redeem(bela)
    await redeem(carl)
    await run_worker(settings, clock, restarts=1)
    assert await holders(api, second["id"]) == {anna_id: 1}

    # Voided and redeemed again: still one next step.
    voided = await api.client.post(f"/api/redemptions/{anna_redemption['id']}/void", headers=staff)
    assert voided.status_code == 200, voided.text
    await redeem(anna)
    await run_worker(settings, clock)
    assert await holders(api, second["id"]) == {anna_id: 1}
    # Step 1 was redeemed before its news went out, so only the next step is announced.
    assert titles(push_service, "anna") == ["Thank you! Your next coupon: Step 2"]

    clock.set(datetime.fromisoformat(second["ends_at"]) + timedelta(hours=1))
    staff = await api.staff(store)  # the clock went further than a staff token lives
    await redeem(eva)
    await run_worker(settings, clock)
    assert await holders(api, second["id"]) == {anna_id: 1}


async def test_win_back_after_days_without_activity(
    api: Api, settings: Settings, clock: FrozenClock, push_service: FakePushService
) -> None:
    start = clock.now()
    winback = await api.campaign(
        name="We miss you",
        trigger={"kind": "inactive_for", "days": 30},
        segment={"tags_any": ["club"]},
        starts_at=iso(start + timedelta(days=40)),
        ends_at=iso(start + timedelta(days=60)),
    )
    await api.publish(winback["id"])
    anna_id, anna = await api.customer(consent=PUSH, tags=["club"])
    await subscribe(api, anna, push_service, "anna")
    bela_id, bela = await api.customer(tags=["club"])  # comes back to the shop on day 20
    await api.customer(tags=["club"], marketing=False)
    await api.customer(tags=["other"])
    ordinary = await api.campaign(name="Anything", coupon_valid_days=30)
    await api.publish(ordinary["id"])

    clock.set(start + timedelta(days=20))
    code = (await coupon_of(api, bela, ordinary["id"]))["code"]
    assert (await api.redeem(await api.staff(), code)).status_code == 201
    await run_worker(settings, clock)
    ((last_active,),) = await api.sql("SELECT last_active_at FROM customers WHERE id = :id", id=bela_id)
    assert str(last_active).startswith(str(start.date() + timedelta(days=20)))

    clock.set(start + timedelta(days=35))  # Anna inactive for 35 days, but not started yet
    await run_worker(settings, clock)
    assert await holders(api, winback["id"]) == {}
    clock.set(start + timedelta(days=41))  # Bela has been back 21 days ago
    await run_worker(settings, clock, restarts=1)
    assert await holders(api, winback["id"]) == {anna_id: 1}
    clock.set(start + timedelta(days=45))
    await api.customer(tags=["club"])  # inactive for 30 days only after the end
    clock.set(start + timedelta(days=51))
    await run_worker(settings, clock, restarts=1)
    assert await holders(api, winback["id"]) == {anna_id: 1, bela_id: 1}
    clock.set(start + timedelta(days=76))
    await run_worker(settings, clock)
    assert await holders(api, winback["id"]) == {anna_id: 1, bela_id: 1}
    assert titles(push_service, "anna") == [
        "New coupon: Anything",
        "We miss you! A coupon for you: We miss you",
    ]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def test_birthday_coupon_on_the_local_date_of_each_customer(
    api: Api, settings: Settings, clock: FrozenClock, push_service: FakePushService
) -> None:
    birthday = await api.campaign(
        name="Birthday",
        trigger={"kind": "birthday"},
        segment={"tags_any": ["fan"]},
        starts_at="2026-06-12T00:00:00Z",
        ends_at="2026-06-20T00:00:00Z",
    )
    await api.publish(birthday["id"])
    fan = {"tags": ["fan"]}
    auckland_id, auckland = await api.customer(
        consent=PUSH, birthday="1990-06-15", timezone="Pacific/Auckland", locale="it", **fan
    )
    await subscribe(api, auckland, push_service, "auckland")
    angeles_id, angeles = await api.customer(
        consent=PUSH, birthday="1985-06-15", timezone="America/Los_Angeles", **fan
    )
    default_id, _ = await api.customer(birthday="2000-06-15", **fan)  # the default zone: UTC
    await api.customer(birthday="1990-06-15", marketing=False, **fan)
    await api.customer(birthday="1990-06-15", tags=["other"])
    await api.customer(birthday="1990-06-11", **fan)  # before the window
    await api.customer(birthday="1990-06-25", **fan)  # after the window
    tokyo_id, tokyo = await api.customer(**fan)
    changed = await api.client.patch(
        "/api/me", json={"birthday": "1970-06-16", "timezone": "Asia/Tokyo"}, headers=tokyo
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["timezone"] == "Asia/Tokyo"

    async def at(moment: str) -> dict[int, int]:
        clock.set(_utc(moment))
        await run_worker(settings, clock)
        return await holders(api, birthday["id"])

    assert await at("2026-06-11T12:00:00") == {}
    assert await at("2026-06-14T11:30:00") == {}  # 23:30 on the 14th in Auckland
    assert await at("2026-06-14T12:30:00") == {auckland_id: 1}  # 00:30 on the 15th there; LA: 05:30, 14th
    assert await at("2026-06-15T00:30:00") == {auckland_id: 1, default_id: 1}
    assert await at("2026-06-15T06:30:00") == {auckland_id: 1, default_id: 1}  # 23:30 in LA
    assert await at("2026-06-15T07:30:00") == {auckland_id: 1, default_id: 1, angeles_id: 1}
    assert (await coupon_of(api, angeles, birthday["id"]))["status"] == "active"
    assert await at("2026-06-15T15:30:00") == {auckland_id: 1, default_id: 1, angeles_id: 1, tokyo_id: 1}
    clock.set(_utc("2026-06-16T12:00:00"))
    await run_worker(settings, clock, restarts=2)
    assert await at("2026-06-25T12:00:00") == {auckland_id: 1, default_id: 1, angeles_id: 1, tokyo_id: 1}
    assert titles(push_service, "auckland") == ["Buon compleanno! Un regalo per te: Birthday"]


async def test_re_offer_before_a_coupon_expires_unredeemed(
    api: Api, settings: Settings, clock: FrozenClock, push_service: FakePushService
) -> None:
    start = clock.now()
    summer = await api.campaign(name="Summer", coupon_valid_days=7, ends_at=iso(start + timedelta(days=60)))
    deal = {"tags": ["deal"]}
    anna_id, anna = await api.customer(consent=PUSH, **deal)
    await subscribe(api, anna, push_service, "anna")
    _, bela = await api.customer(**deal)  # redeems in time
    _, carl = await api.customer(**deal)  # withdraws marketing consent
    await api.customer(tags=["other"])
    await api.publish(summer["id"])  # coupons expire on day 7
    last_call = await api.campaign(
        name="Last call",
        trigger={"kind": "before_expiry", "campaign_id": summer["id"], "hours": 48},
        segment={"tags_any": ["deal"]},
        starts_at=iso(start + timedelta(days=5, hours=12)),
        ends_at=iso(start + timedelta(days=30)),
        coupon_valid_days=3,
    )
    assert last_call["trigger"] == {"kind": "before_expiry", "campaign_id": summer["id"], "hours": 48}
    await api.publish(last_call["id"])

    clock.set(start + timedelta(days=4))  # three days left
    await run_worker(settings, clock)
    clock.set(start + timedelta(days=5, hours=1))  # within 48 hours, not started yet
    await run_worker(settings, clock)
    assert await holders(api, last_call["id"]) == {}
    staff = await api.staff()
    assert (await api.redeem(staff, (await coupon_of(api, bela, summer["id"]))["code"])).status_code == 201
    withdrawn = await api.client.patch("/api/me", json={"consent": {"marketing": False}}, headers=carl)
    assert withdrawn.status_code == 200, withdrawn.text
    clock.set(start + timedelta(days=5, hours=13))
    await run_worker(settings, clock, restarts=2)
    assert await holders(api, last_call["id"]) == {anna_id: 1}
    assert titles(push_service, "anna") == ["New coupon: Summer", "One more chance: Last call"]

    clock.set(start + timedelta(days=35))
    _, gina = await api.customer(**deal)  # gets Summer at registration, expiring on day 42
    assert (await coupon_of(api, gina, summer["id"]))["status"] == "active"
    clock.set(start + timedelta(days=41))  # Last call has ended
    await run_worker(settings, clock)
    assert await holders(api, last_call["id"]) == {anna_id: 1}
