"""Abuse limits: failed scans count against the staff account, its store and all scans;
registrations against the client address. Each answers 429 with ``Retry-After`` when spent."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tessera.codes.formats import random_code_from_bytes
from tessera.settings import Settings
from tests.support import Api, Headers, problem

PER_STAFF, PER_STORE, IN_ALL, REGISTRATIONS = 10, 15, 40, 5
_guesses = iter(range(1, 255))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    throttle = replace(
        settings.throttle,
        failed_scans_per_window=PER_STAFF,
        failed_scans_per_store=PER_STORE,
        failed_scans_in_all=IN_ALL,
        registrations_per_address=REGISTRATIONS,
    )
    return replace(settings, throttle=throttle)


async def _fail(api: Api, staff: Headers, times: int) -> None:
    for _ in range(times):
        guess = random_code_from_bytes(bytes([next(_guesses)]) * 15)
        problem(await api.redeem(staff, guess), 404, "invalid_code")


async def _live_code(api: Api) -> str:
    campaign = await api.campaign()
    _, customer = await api.customer()
    await api.publish(campaign["id"])
    return str((await api.coupons(customer))[0]["code"])


async def test_a_store_has_one_budget_for_all_its_staff(api: Api) -> None:
    code = await _live_code(api)
    store, elsewhere = await api.store(), await api.store()
    first, second = await api.staff(store), await api.staff(store)
    await _fail(api, first, PER_STAFF - 1)
    await _fail(api, second, PER_STORE - (PER_STAFF - 1))
    # Neither account has spent its own budget, the store has.
    for staff in (first, second):
        blocked = problem(await api.redeem(staff, code), 429, "too_many_attempts")
        assert blocked["retry_after"] > 0
    assert (await api.redeem(await api.staff(elsewhere), code)).status_code == 201


async def test_all_scans_together_have_a_budget(api: Api) -> None:
    code = await _live_code(api)
    for _ in range(IN_ALL // 8):  # five stores, each below its own and its staff's budget
        await _fail(api, await api.staff(await api.store()), 8)
    latecomer = await api.staff(await api.store())
    blocked = await api.redeem(latecomer, code)
    problem(blocked, 429, "too_many_attempts")
    assert 0 < int(blocked.headers["retry-after"]) <= 300
    api.clock.advance(timedelta(minutes=5))  # a new window
    assert (await api.redeem(latecomer, code)).status_code == 201


async def test_registrations_per_address_are_limited_and_every_attempt_counts(api: Api) -> None:
    email = "twice@example.com"
    body = {"email": email, "consent": {"terms": True, "marketing": True}}
    assert (await api.client.post("/api/customers", json=body)).status_code == 201
    for _ in range(REGISTRATIONS - 1):  # duplicates count: probing for known addresses is slow
        problem(await api.client.post("/api/customers", json=body), 409, "customer_exists")
    fresh = {**body, "email": "fresh@example.com"}
    blocked = await api.client.post("/api/customers", json=fresh)
    problem(blocked, 429, "too_many_attempts")
    assert 0 < int(blocked.headers["retry-after"]) <= 300
    assert await api.sql("SELECT count(*) FROM customers") == [(1,)]
    api.clock.advance(timedelta(minutes=5))
    assert (await api.client.post("/api/customers", json=fresh)).status_code == 201
