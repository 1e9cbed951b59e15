"""The SMS gateway's side of ``POST /api/sms/inbound``: signed inbound messages, and waiting for
the replies at the local message webhook (``tests.fakes.messages``)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from typing import Any

import httpx

from tests.fakes.messages import FakeMessageWebhook

INBOUND_SECRET = "sms-inbound-secret-" + "y" * 24
GATEWAY_NUMBER = "+3620000000"
_ids = itertools.count(1)


def signature(body: bytes, secret: str = INBOUND_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def inbound(sender: str, text: str, *, gateway_id: str | None = None, **extra: Any) -> bytes:
    message = {"id": gateway_id or f"gw-{next(_ids)}", "from": sender, "to": GATEWAY_NUMBER, "text": text}
    return json.dumps({**message, **extra}).encode()


async def send_sms(
    client: httpx.AsyncClient, body: bytes, *, signed_with: str | None = INBOUND_SECRET
) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signed_with is not None:
        headers["X-Tessera-Signature"] = signature(body, signed_with)
    return await client.post("/api/sms/inbound", content=body, headers=headers)


async def text_in(client: httpx.AsyncClient, sender: str, text: str, **extra: Any) -> httpx.Response:
    response = await send_sms(client, inbound(sender, text, **extra))
    assert response.status_code == 200, response.text
    return response


async def replies(webhook: FakeMessageWebhook, to: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` messages to ``to``, once they have arrived."""
    for _ in range(750):
        if len(webhook.messages_to(to)) >= count:
            return webhook.messages_to(to)[:count]
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {count} replies to {to}: {webhook.messages_to(to)}")
