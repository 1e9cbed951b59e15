"""A sent mail merge (``deliver: true``) in a real server process SIGKILLed while the merge's job
queues its messages and again while the worker hands them to a real SMTP server, and started again
on the same port: every recipient's message arrives, and the only ones the SMTP server gets twice
were in flight when a process died — with the same ``Message-ID``, so a receiver that honours it
delivers each once. No coupon is issued and no message queued twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from scripts.crash_harness import KillableServer, marketer_key, poll, sql
from sqlalchemy import insert

from tessera.core.db.engine import create_engine
from tessera.core.settings import Settings
from tessera.mailmerge.jobs import POSTGRES_CHUNK, SQLITE_CHUNK
from tessera.models.customers import Customer
from tests.fakes.smtp import running_smtp_server
from tests.support.api import publish_and_wait
from tests.support.servers import crash_env, free_port

pytestmark = pytest.mark.slow

BATCH = 25  # outbox rows one worker claims at a time: the most a kill can leave in flight


def recipients_for(settings: Settings) -> int:
    """Enough for the job to take many chunks (a kill can fall between two of them)."""
    return 16 * SQLITE_CHUNK if settings.database.is_sqlite else 3 * POSTGRES_CHUNK // 2


async def seed(settings: Settings, count: int) -> list[int]:
    now = datetime.now(UTC)
    rows = [
        {
            "email": f"reader{i}@example.com",
            "name": f"Reader {i}",
            "tags": ["newsletter"],
            "attributes": {},
            "marketing_consent": True,
            "push_consent": False,
            "created_at": now,
        }
        for i in range(count)
    ]
    engine = create_engine(settings.database)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(insert(Customer).returning(Customer.id), rows)
            return sorted(row[0] for row in result)
    finally:
        await engine.dispose()


async def test_sigkill_mid_merge_loses_no_message_and_repeats_only_in_flight_ones_by_id(
    settings: Settings, tmp_path: Path
) -> None:
    recipients = recipients_for(settings)
    customers = await seed(settings, recipients)
    with running_smtp_server() as smtp:
        env = crash_env(
            settings,
            tmp_path,
            SMTP_URL=smtp.url,
            MAIL_FROM="coupons@shop.example",
            WORKER_POLL_SECONDS="0.02",
            OUTBOX_BATCH_SIZE=str(BATCH),
            OUTBOX_LEASE_SECONDS="2",
        )
        server = KillableServer(env, free_port(), tmp_path / "server.log")
        await server.start()
        try:
            marketer = {"Authorization": f"Bearer {await marketer_key(settings.database.url)}"}
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                now = datetime.now(UTC)
                campaign = await client.post(
                    "/api/campaigns",
                    headers=marketer,
                    json={
                        "name": "Crash news",
                        "slug": "crash-news",
                        "discount": {"kind": "percent", "value": 20},
                        "starts_at": (now - timedelta(hours=1)).isoformat(),
                        "ends_at": (now + timedelta(days=30)).isoformat(),
                        "segment": {"tags_any": ["newsletter"]},
                    },
                )
                assert campaign.status_code == 201, campaign.text
                await publish_and_wait(client, marketer, campaign.json()["id"])
                started = await client.post(
                    "/api/mail-merges",
                    headers=marketer,
                    json={
                        "message_id": "crash-news",
                        "channel": "email",
                        "template": {"subject": "For {{name}}", "body": "Code {{coupon:crash-news}}"},
                        "recipients": [{"customer_id": c} for c in customers],
                        "deliver": True,
                    },
                )
                assert started.status_code == 202, started.text
            merge_id = started.json()["id"]

            async def processed() -> int:
                rows = await sql(
                    settings.database.url, "SELECT processed FROM mail_merge_jobs WHERE id = :id", id=merge_id
                )
                return int(rows[0][0])

            # Killed while the job queues (some chunks written, not all) ...
            await poll(lambda: processed(), 60, "the first chunk", 0.002)
            await server.kill()
            at_first_kill = await processed()
            await server.start()  # ... resumed at start-up, then killed while messages go out.
            await poll(lambda: len(smtp.delivered) >= recipients // 2, 60, "half the messages", 0.002)
            await server.kill()
            await server.start()

            async def settled() -> bool:
                rows = await sql(
                    settings.database.url,
                    "SELECT count(*) FROM outbox WHERE topic = 'merge_message' AND delivered_at IS NOT NULL",
                )
                return bool(rows[0][0] == recipients)

            await poll(settled, 90, "every message delivered", 0.05)
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                view = (await client.get(f"/api/mail-merges/{merge_id}", headers=marketer)).json()
        finally:
            await server.stop()

    assert at_first_kill < recipients, "the first kill came after the job had queued everything"
    assert view["status"] == "done"
    assert (view["processed"], view["messages"], view["issued"]) == (recipients, recipients, recipients)
    assert view["delivery"] == {"queued": 0, "sent": recipients, "failed": 0}
    by_id: dict[str, set[str]] = {}
    for item in smtp.delivered:
        by_id.setdefault(item.message["Message-ID"], set()).update(item.recipients)
    # Deduplicated by Message-ID: exactly one message per recipient, to that recipient.
    assert set(by_id) == {f"<merge-{merge_id}-{index}@shop.example>" for index in range(recipients)}
    for index in range(recipients):
        assert by_id[f"<merge-{merge_id}-{index}@shop.example>"] == {f"reader{index}@example.com"}
    repeats = sum(
        count - 1 for count in Counter(item.message["Message-ID"] for item in smtp.delivered).values()
    )
    assert repeats <= 2 * BATCH  # at most the batches in flight at the two kills
    holdings = await sql(
        settings.database.url,
        "SELECT count(*), count(DISTINCT customer_id) FROM coupons WHERE origin = 'message:crash-news'",
    )
    assert holdings == [(recipients, recipients)]
    queued = await sql(settings.database.url, "SELECT count(*) FROM outbox WHERE topic = 'merge_message'")
    assert queued == [(recipients,)]
