"""Messages in the per-channel analytics, through HTTP on SQLite and PostgreSQL: SMS replies
delivered through the outbox to a local message webhook (which checks every signature) count as
``sent``, replies given up as ``failed``, the gateway's signed delivery receipts as ``delivered``
or ``failed``; SMS keyword requests, inbound messages and contest entries count under ``sms``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tessera.core.settings import MessageSettings, Settings, SmsSettings, WorkerSettings
from tests.fakes.messages import FakeMessageWebhook
from tests.support.api import Api, problem
from tests.support.contests import contest, enter, printed_codes
from tests.support.sms import INBOUND_SECRET, replies, signature, text_in

ANNA = "+36301234567"
BELA = "+36301112222"
MAX_ATTEMPTS = 3


@pytest.fixture
def settings(settings: Settings, webhook: FakeMessageWebhook) -> Settings:
    return replace(
        settings,
        messages=MessageSettings(webhook_url=webhook.url, webhook_secret=webhook.secret),
        sms=SmsSettings(inbound_secret=INBOUND_SECRET),
        worker=WorkerSettings(
            embedded=True,
            poll_seconds=0.02,
            jobs_every_seconds=0.05,
            max_attempts=MAX_ATTEMPTS,
            retry_base_seconds=10,
        ),
    )


async def channels(api: Api, by: str = "channel", **params: Any) -> dict[str, dict[str, Any]]:
    response = await api.client.get(
        "/api/analytics/channels", params={"by": by, **params}, headers=await api.marketer()
    )
    assert response.status_code == 200, response.text
    return {row.pop("key"): row for row in response.json()["rows"]}


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(750):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting until {what}")


async def settled(api: Api) -> None:
    """Until the outbox has completed or given up every row (the webhook sees a message before
    the worker records it)."""

    async def done() -> bool:
        rows = await api.sql("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL")
        return rows == [(0,)]

    await eventually(done, "the outbox is settled")


async def send_receipt(
    api: Api, body: dict[str, Any], *, secret: str | None = INBOUND_SECRET
) -> httpx.Response:
    content = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["X-Tessera-Signature"] = signature(content, secret)
    return await api.client.post("/api/messages/receipts", content=content, headers=headers)


def contacts(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in ("issued", "entries", "received", "sent", "delivered", "failed")}


async def test_a_keyword_request_counts_as_sms_sent_then_delivered_by_receipt(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    await api.customer(email=None, phone=ANNA)
    campaign = await api.campaign(name="Coffee", sms_keyword="COFFEE")
    await text_in(api.client, ANNA, "coffee")
    (reply,) = await replies(webhook, ANNA, 1)
    assert reply["kind"] == "sms_coupon"
    await settled(api)
    figures = await channels(api)
    assert contacts(figures["sms"]) == {
        "issued": 1,
        "entries": 0,
        "received": 1,
        "sent": 1,
        "delivered": 0,
        "failed": 0,
    }
    # The reply carried the campaign's coupon: it counts for the campaign too.
    assert contacts((await channels(api, campaign_id=campaign["id"]))["sms"])["sent"] == 1

    receipt = {"message_id": reply["id"], "status": "delivered", "at": "2026-06-03T10:15:07Z"}
    # Unsigned, signed with another secret, or a body other than the signed one: 401, nothing.
    problem(await send_receipt(api, receipt, secret=None), 401, "invalid_signature")
    problem(await send_receipt(api, receipt, secret="another-secret-" + "z" * 30), 401, "invalid_signature")
    content = json.dumps(receipt).encode()
    tampered = await api.client.post(
        "/api/messages/receipts",
        content=content.replace(b"delivered", b"failed"),
        headers={"content-type": "application/json", "X-Tessera-Signature": signature(content)},
    )
    problem(tampered, 401, "invalid_signature")
    assert await api.sql("SELECT count(*) FROM message_receipts") == [(0,)]
    assert contacts((await channels(api))["sms"])["delivered"] == 0

    first = await send_receipt(api, receipt)
    assert first.status_code == 200, first.text
    assert first.json() == {"message_id": reply["id"], "status": "delivered", "duplicate": False}
    again = await send_receipt(api, receipt)
    assert again.json() == {"message_id": reply["id"], "status": "delivered", "duplicate": True}
    figures = await channels(api)
    assert contacts(figures["sms"])["delivered"] == 1
    assert contacts((await channels(api, campaign_id=campaign["id"]))["sms"])["delivered"] == 1
    # Counted when the receipt says it happened.
    window = {"since": "2026-06-03T10:15:07Z", "until": "2026-06-03T10:15:08Z"}
    assert contacts((await channels(api, **window))["sms"])["delivered"] == 1

    # A later failure report of the same message is its own status, recorded once.
    failed = await send_receipt(api, {"message_id": reply["id"], "status": "failed", "reason": "handset off"})
    assert failed.json()["duplicate"] is False
    assert contacts((await channels(api))["sms"]) == {
        "issued": 1,
        "entries": 0,
        "received": 1,
        "sent": 1,
        "delivered": 1,
        "failed": 1,
    }
    problem(await send_receipt(api, {**receipt, "message_id": "sms-reply-99999"}), 404, "unknown_message")
    problem(await send_receipt(api, {**receipt, "status": "read"}), 400, "invalid_input")


async def test_a_reply_the_webhook_refuses_is_given_up_and_counted_failed_once(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    webhook.failing = 400
    await text_in(api.client, BELA, "HELP")
    await settled(api)
    assert webhook.failed == 1
    (row,) = await api.sql("SELECT last_error FROM outbox")
    assert "400" in row[0]
    assert contacts((await channels(api))["sms"]) == {
        "issued": 0,
        "entries": 0,
        "received": 1,
        "sent": 0,
        "delivered": 0,
        "failed": 1,
    }
    kinds = await api.sql("SELECT type, channel FROM events WHERE type LIKE 'message_%'")
    assert [tuple(kind) for kind in kinds] == [("message_failed", "sms")]


async def test_a_reply_retried_until_the_outbox_gives_up_counts_one_failure(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    webhook.failing = 503
    await text_in(api.client, BELA, "HELP")
    for attempt in range(1, MAX_ATTEMPTS + 1):

        async def tried(attempt: int = attempt) -> bool:
            return webhook.failed >= attempt and (
                await api.sql("SELECT count(*) FROM outbox WHERE claimed_until IS NULL")
            ) == [(1,)]

        await eventually(tried, f"attempt {attempt} is recorded")
        # Retried ones count nothing yet.
        if attempt < MAX_ATTEMPTS:
            assert "message_failed" not in {row[0] for row in await api.sql("SELECT type FROM events")}
        api.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    await settled(api)
    assert webhook.failed == MAX_ATTEMPTS
    assert contacts((await channels(api))["sms"])["failed"] == 1
    assert contacts((await channels(api))["sms"])["sent"] == 0


async def test_contest_entries_by_sms_count_under_sms_and_in_the_app_under_pwa(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    created = await contest(api, name="Summer caps")
    rows = await printed_codes(api, created["id"], 2, product="Cola", points=5)
    await api.customer(email=None, phone=ANNA)
    _, bob = await api.customer()
    assert (await enter(api, created["id"], bob, rows[0]["code"])).status_code == 201
    await text_in(api.client, ANNA, rows[1]["code_display"])
    (reply,) = await replies(webhook, ANNA, 1)
    assert reply["kind"] == "sms_entry_points"
    await settled(api)
    by_channel = await channels(api)
    assert contacts(by_channel["sms"]) == {
        "issued": 0,
        "entries": 1,
        "received": 1,
        "sent": 1,
        "delivered": 0,
        "failed": 0,
    }
    assert by_channel["pwa"]["entries"] == 1
    by_medium = await channels(api, by="medium")
    assert by_medium["sms"]["entries"] == 1
    assert sum(row["entries"] for row in by_medium.values()) == 2
    medium = await api.sql("SELECT medium FROM contest_entries ORDER BY id")
    assert [row[0] for row in medium][1] == "sms"
