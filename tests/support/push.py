"""Web Push through the public API: a device's subscription, and waiting for the outbox to have
delivered (or given up on) every message."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.api import Api, Headers


async def subscribe(api: Api, customer: Headers, subscription: dict[str, Any]) -> None:
    response = await api.client.post("/api/me/push-subscriptions", json=subscription, headers=customer)
    assert response.status_code == 201, response.text


async def settled(api: Api) -> bool:
    """No outbox row is still waiting: each was delivered or given up."""
    rows = await api.sql("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL")
    return bool(rows[0][0] == 0)


async def wait_settled(api: Api) -> None:
    for _ in range(750):
        if await settled(api):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the outbox did not settle")
