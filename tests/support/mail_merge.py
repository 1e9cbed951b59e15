"""Mail merges through the public API: a request for a list of recipients with the template that
names the ``spring-20`` campaign, its NDJSON answer read line by line, and customers written in
bulk to send it to."""

from __future__ import annotations

import json
from typing import Any

from httpx import Response
from sqlalchemy import insert

from tessera.core.db.engine import create_engine
from tessera.models.customers import Customer
from tests.support.api import Api

NDJSON = "application/x-ndjson"
TEMPLATE = {
    "subject": "{{name}}, your code {{coupon:spring-20}}",
    "body": "Hi {{name}}! Code {{ coupon:spring-20 }} · {{coupon_url:spring-20}} · {{wallet_link:spring-20}}",
}


def lines_of(response: Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == NDJSON
    assert response.text.endswith("\n")
    return [json.loads(line) for line in response.text.splitlines()]


async def merge(
    api: Api, recipients: list[dict[str, Any]], *, key: str | None = None, **fields: Any
) -> Response:
    headers = {**await api.marketer(), "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await api.client.post(
        "/api/mail-merges", content=merge_body(recipients, **fields), headers=headers, timeout=300
    )


def merge_body(recipients: list[dict[str, Any]], **fields: Any) -> bytes:
    body = {"message_id": "june-newsletter", "channel": "email", "template": TEMPLATE, **fields}
    return json.dumps({**body, "recipients": recipients}).encode()


async def seed_customers(api: Api, count: int, **fields: Any) -> list[int]:
    """``count`` consenting customers, written in bulk (registering 10,000 through the API one
    by one would be the slow part of the test, not what it checks)."""
    now = api.clock.now()
    rows = [
        {
            "email": f"bulk{i}@example.com",
            "phone": f"+3930{i:08d}",
            "name": f"Reader {i}",
            "tags": ["newsletter"],
            "attributes": {},
            "marketing_consent": True,
            "push_consent": False,
            "created_at": now,
            **fields,
        }
        for i in range(count)
    ]
    engine = create_engine(api.settings.database)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(insert(Customer).returning(Customer.id), rows)
            return sorted(row[0] for row in result)
    finally:
        await engine.dispose()


async def published_spring_campaign(api: Api, **overrides: Any) -> dict[str, Any]:
    """The ``spring-20`` campaign ``TEMPLATE`` names, for the ``newsletter`` tag, published."""
    campaign = await api.campaign(slug="spring-20", segment={"tags_any": ["newsletter"]}, **overrides)
    await api.publish(campaign["id"])
    return campaign
