"""Abuse limits: failed scans count against the staff account, its store and all scans;
registrations against the client address (the real client's, behind a load balancer). Each
answers 429 with ``Retry-After`` when spent."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tessera.codes.formats import random_code_from_bytes
from tessera.core.settings import Settings
from tests.support.api import Api, Headers, problem
from tests.support.fixed_values import TEST_SECRET
from tests.support.servers import free_port, server_env, tessera_serve, until_healthy

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


async def test_behind_a_load_balancer_each_client_address_has_its_own_budget(
    settings: Settings, tmp_path: Path
) -> None:
    """``tessera serve`` believes X-Forwarded-For from ``TESSERA_FORWARDED_ALLOW_IPS`` (here the
    test, on 127.0.0.1, stands for the load balancer): the budgets count the real clients."""
    env = {
        **server_env(settings.database.url, tmp_path, TEST_SECRET),
        "TESSERA_REGISTRATIONS_PER_ADDRESS": "2",
        "TESSERA_FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    port, log = free_port(), tmp_path / "server.log"
    process = tessera_serve(env, port, log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client, process, log)

            async def register(email: str, client_address: str) -> httpx.Response:
                body = {"email": email, "consent": {"terms": True, "marketing": True}}
                return await client.post(
                    "/api/customers", json=body, headers={"X-Forwarded-For": client_address}
                )

            assert (await register("a1@example.com", "203.0.113.5")).status_code == 201
            assert (await register("a2@example.com", "203.0.113.5")).status_code == 201
            problem(await register("a3@example.com", "203.0.113.5"), 429, "too_many_attempts")
            assert (await register("b1@example.com", "198.51.100.7")).status_code == 201
    finally:
        process.terminate()
        process.wait(timeout=30)
