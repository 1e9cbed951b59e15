"""Exactly once under load, through real HTTP servers (two processes on one database)."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tessera.auth.services import create_api_key
from tessera.clock import SystemClock
from tessera.db.engine import create_engine, session_factory
from tessera.settings import Settings
from tests.conftest import TEST_SECRET
from tests.servers import running_servers, server_env

pytestmark = pytest.mark.slow


def processes_for(settings: Settings) -> int:
    """SQLite is the one-process store (README); PostgreSQL is the one for several processes."""
    return 1 if settings.database.is_sqlite else 2


async def _marketer_key(settings: Settings) -> str:
    engine = create_engine(settings.database)
    try:
        return await create_api_key(session_factory(engine), SystemClock(), "load test", "marketer")
    finally:
        await engine.dispose()


async def _setup(
    client: httpx.AsyncClient, marketer: dict[str, str], codes: int, **limits: Any
) -> tuple[list[str], list[dict[str, str]]]:
    now = datetime.now(UTC)
    store = (await client.post("/api/stores", json={"name": "Load"}, headers=marketer)).json()["id"]
    tills = []
    for number in range(4):
        username = f"till{number}"
        created = await client.post(
            "/api/staff",
            json={"username": username, "password": "load-test-password", "store_id": store},
            headers=marketer,
        )
        assert created.status_code == 201, created.text
        login = await client.post(
            "/api/auth/staff/login", json={"username": username, "password": "load-test-password"}
        )
        tills.append({"Authorization": f"Bearer {login.json()['token']}"})
    campaign = await client.post(
        "/api/campaigns",
        headers=marketer,
        json={
            "name": "Flash",
            "discount": {"kind": "percent", "value": 50},
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
            "limits": {"per_customer": None, **limits},
        },
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    batch = (
        await client.post(f"/api/campaigns/{campaign_id}/codes", json={"count": codes}, headers=marketer)
    ).json()
    for _ in range(300):
        if (await client.get(batch["progress_url"], headers=marketer)).json()["status"] == "done":
            break
        await asyncio.sleep(0.05)
    export = await client.get(batch["export_url"], headers=marketer)
    return [row["code"] for row in csv.DictReader(io.StringIO(export.text))], tills


async def _fire(urls: list[str], requests: list[tuple[str, dict[str, str]]]) -> Counter[int]:
    clients = [
        httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=64)) for url in urls
    ]
    try:
        rotation = itertools.cycle(clients)
        # 64 in flight; consecutive requests for one code are in flight together.
        in_flight = asyncio.Semaphore(64)

        async def call(client: httpx.AsyncClient, code: str, headers: dict[str, str]) -> httpx.Response:
            async with in_flight:
                return await client.post("/api/redemptions", json={"code": code}, headers=headers)

        # A task group waits for (or cancels) every call before the clients close, so a failed call
        # never leaves sockets open behind it.
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call(next(rotation), code, headers)) for code, headers in requests]
        responses = [task.result() for task in tasks]
    finally:
        for client in clients:
            await client.aclose()
    for response in responses:
        assert response.status_code < 500, response.text
    return Counter(response.status_code for response in responses)


async def test_each_code_redeems_exactly_once_under_16_concurrent_requests(
    settings: Settings, tmp_path: Path
) -> None:
    env = server_env(settings.database.url, tmp_path, TEST_SECRET)
    marketer = {"Authorization": f"Bearer {await _marketer_key(settings)}"}
    with running_servers(processes_for(settings), env) as urls:
        async with httpx.AsyncClient(base_url=urls[0], timeout=60) as client:
            codes, tills = await _setup(client, marketer, 200)
        assert len(codes) == 200
        till = itertools.cycle(tills)
        requests = [(code, next(till)) for code in codes for _ in range(16)]
        counts = await _fire(urls, requests)
    assert counts == Counter({201: 200, 409: 200 * 15})


async def test_campaign_cap_holds_under_500_concurrent_redeems(settings: Settings, tmp_path: Path) -> None:
    env = server_env(settings.database.url, tmp_path, TEST_SECRET)
    marketer = {"Authorization": f"Bearer {await _marketer_key(settings)}"}
    with running_servers(processes_for(settings), env) as urls:
        async with httpx.AsyncClient(base_url=urls[0], timeout=60) as client:
            codes, tills = await _setup(client, marketer, 500, max_redemptions=50)
            till = itertools.cycle(tills)
            counts = await _fire(urls, [(code, next(till)) for code in codes])
            assert counts == Counter({201: 50, 422: 450})
            campaign = (await client.get("/api/campaigns", headers=marketer)).json()["items"][0]
            assert campaign["redemption_count"] == 50
