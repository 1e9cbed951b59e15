"""Redemption races through real server processes on one database.

Each ``race_*`` function sets up a campaign of its own through the API (so several races can
share one database), fires its requests at every server at once and returns a ``RaceResult``:
what the servers answered and what the database holds, next to what exactly-once and the limits
allow. The product's tests assert that a race finds no violation; the race suite
(``tests/processes/test_redemption_races.py``) also runs the same races against a naive ledger
and asserts that they find some.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import httpx
from sqlalchemy import text

from tessera.auth.services import create_api_key
from tessera.core.clock import SystemClock
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import DatabaseSettings
from tests.support.api import publish_and_wait

Headers = dict[str, str]
PASSWORD = "load-test-password"
_unique = itertools.count(1)


async def marketer_key(database: DatabaseSettings) -> str:
    engine = create_engine(database)
    try:
        return await create_api_key(session_factory(engine), SystemClock(), "load test", "marketer")
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Race:
    """Where a race runs: the servers' base URLs, their database and a marketer's key."""

    urls: list[str]
    database: DatabaseSettings
    marketer: Headers

    def setup_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.urls[0], timeout=60)


@dataclass
class RaceResult:
    """What a race observed against what it allows; ``violations`` lists every difference."""

    name: str
    observed: dict[str, Any]
    allowed: dict[str, Any]

    def violations(self) -> list[str]:
        return [
            f"{self.name}: {key} {self.observed.get(key)!r}, allowed {value!r}"
            for key, value in self.allowed.items()
            if self.observed.get(key) != value
        ]


def _created(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def tills(client: httpx.AsyncClient, marketer: Headers, count: int = 4) -> list[Headers]:
    """A store with ``count`` logged-in staff accounts (one per till)."""
    run = next(_unique)
    store = _created(await client.post("/api/stores", json={"name": f"Load {run}"}, headers=marketer))
    staff = []
    for number in range(count):
        username = f"till{run}-{number}"
        _created(
            await client.post(
                "/api/staff",
                json={"username": username, "password": PASSWORD, "store_id": store["id"]},
                headers=marketer,
            )
        )
        login = _created(
            await client.post("/api/auth/staff/login", json={"username": username, "password": PASSWORD}),
            200,
        )
        staff.append({"Authorization": f"Bearer {login['token']}"})
    return staff


async def campaign(client: httpx.AsyncClient, marketer: Headers, name: str, **extra: Any) -> int:
    """A running campaign (per-customer limit off unless ``limits`` says otherwise)."""
    now = datetime.now(UTC)
    body = {
        "name": name,
        "discount": {"kind": "percent", "value": 50},
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
        "limits": {"per_customer": None},
        **extra,
    }
    created = _created(await client.post("/api/campaigns", json=body, headers=marketer))
    campaign_id: int = created["id"]
    return campaign_id


async def unassigned_codes(
    client: httpx.AsyncClient, marketer: Headers, campaign_id: int, count: int
) -> list[str]:
    """``count`` print codes of the campaign, through the bulk path and its CSV export."""
    batch = _created(
        await client.post(f"/api/campaigns/{campaign_id}/codes", json={"count": count}, headers=marketer),
        202,
    )
    for _ in range(600):
        if (await client.get(batch["progress_url"], headers=marketer)).json()["status"] == "done":
            break
        await asyncio.sleep(0.05)
    export = await client.get(batch["export_url"], headers=marketer)
    codes = [row["code"] for row in csv.DictReader(io.StringIO(export.text))]
    assert len(codes) == count, export.text[:500]
    return codes


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


async def fire(
    urls: list[str], requests: Sequence[tuple[str, Headers]], *, in_flight: int = 64
) -> list[Answer]:
    """POST every ``(code, staff)`` redemption once, request ``i`` to server ``i % len(urls)``,
    with ``in_flight`` requests under way at any moment: requests next to each other in the list
    (e.g. all those for one code) are in flight together, spread over every server.

    One aiohttp session per server, its connections limited to its share of ``in_flight``.
    (httpx's pool scans every connection for each request; at this concurrency it cost about
    five times the client CPU per request, on a machine the servers share.)
    """
    share = -(-in_flight // len(urls))
    sessions = [
        aiohttp.ClientSession(
            base_url=url,
            connector=aiohttp.TCPConnector(limit=share),
            timeout=aiohttp.ClientTimeout(total=60),
        )
        for url in urls
    ]
    slots = asyncio.Semaphore(in_flight)  # first come, first served: a sliding window

    async def call(session: aiohttp.ClientSession, code: str, staff: Headers) -> Answer:
        async with slots, session.post("/api/redemptions", json={"code": code}, headers=staff) as response:
            return Answer(response.status, await response.read())

    try:
        # The task group waits for (or cancels) every call before the sessions close, so a failed
        # call never leaves sockets open behind it.
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(call(sessions[i % len(sessions)], code, staff))
                for i, (code, staff) in enumerate(requests)
            ]
    finally:
        for session in sessions:
            await session.close()
    return [task.result() for task in tasks]


def answered(responses: Sequence[Answer]) -> dict[str, Any]:
    """How many of each status, and the first few server errors (there must be none)."""
    return {
        "answers": dict(sorted(Counter(answer.status for answer in responses).items())),
        "server errors": [answer.body.decode()[:300] for answer in responses if answer.status >= 500][:3],
    }


def _statuses(expected: dict[int, int]) -> dict[int, int]:
    """Expected answers as ``answered`` counts them (statuses never answered are left out)."""
    return {status: count for status, count in expected.items() if count}


async def _figures(database: DatabaseSettings, queries: dict[str, str], **params: Any) -> dict[str, Any]:
    engine = create_engine(database)
    try:
        async with engine.connect() as connection:
            return {
                name: (await connection.execute(text(sql), params)).scalar() for name, sql in queries.items()
            }
    finally:
        await engine.dispose()


_STORED = {
    "redemption rows": ("SELECT count(*) FROM redemptions WHERE campaign_id = :campaign AND kind = 'redeem'"),
    "coupons redeemed more than once": (
        "SELECT count(*) FROM (SELECT coupon_id FROM redemptions WHERE campaign_id = :campaign "
        "AND kind = 'redeem' GROUP BY coupon_id HAVING count(*) > 1) AS twice"
    ),
    "redeemed events": "SELECT count(*) FROM events WHERE campaign_id = :campaign AND type = 'redeemed'",
    "coupons redeemed": (
        "SELECT count(*) FROM coupons WHERE campaign_id = :campaign AND redeemed_at IS NOT NULL"
    ),
}


async def stored_redemptions(database: DatabaseSettings, campaign_id: int) -> dict[str, Any]:
    """What the database holds about a campaign's redemptions."""
    return await _figures(database, _STORED, campaign=campaign_id)


def _stored_allowed(redeemed: int) -> dict[str, int]:
    return {
        "redemption rows": redeemed,
        "coupons redeemed more than once": 0,
        "redeemed events": redeemed,
        "coupons redeemed": redeemed,
    }


async def race_each_code_once(race: Race, *, codes: int, per_code: int) -> RaceResult:
    """``codes`` codes, each sent ``per_code`` times at once: one 201 per code, 409 for the rest."""
    async with race.setup_client() as client:
        staff = await tills(client, race.marketer)
        campaign_id = await campaign(client, race.marketer, "Race: each code once")
        issued = await unassigned_codes(client, race.marketer, campaign_id, codes)
    till = itertools.cycle(staff)
    responses = await fire(race.urls, [(code, next(till)) for code in issued for _ in range(per_code)])
    return RaceResult(
        "each code once",
        observed={**answered(responses), **await stored_redemptions(race.database, campaign_id)},
        allowed={
            "answers": _statuses({201: codes, 409: codes * (per_code - 1)}),
            "server errors": [],
            **_stored_allowed(codes),
        },
    )


async def race_campaign_cap(race: Race, *, codes: int, per_code: int, cap: int) -> RaceResult:
    """A campaign with ``max_redemptions: cap``: exactly ``cap`` codes redeem; the first answer
    for every other code is 422 and so is each repeat (a refused coupon stays unredeemed)."""
    async with race.setup_client() as client:
        staff = await tills(client, race.marketer)
        campaign_id = await campaign(
            client, race.marketer, "Race: campaign cap", limits={"per_customer": None, "max_redemptions": cap}
        )
        issued = await unassigned_codes(client, race.marketer, campaign_id, codes)
        till = itertools.cycle(staff)
        responses = await fire(race.urls, [(code, next(till)) for code in issued for _ in range(per_code)])
        shown = (await client.get(f"/api/campaigns/{campaign_id}", headers=race.marketer)).json()
    counter = await _figures(
        race.database,
        {"campaign counter": "SELECT redemption_count FROM campaigns WHERE id = :campaign"},
        campaign=campaign_id,
    )
    return RaceResult(
        "campaign cap",
        observed={
            **answered(responses),
            "redemption_count shown by the API": shown["redemption_count"],
            **counter,
            **await stored_redemptions(race.database, campaign_id),
        },
        allowed={
            "answers": _statuses({201: cap, 409: cap * (per_code - 1), 422: (codes - cap) * per_code}),
            "server errors": [],
            "redemption_count shown by the API": cap,
            "campaign counter": cap,
            **_stored_allowed(cap),
        },
    )


async def race_per_customer_limit(
    race: Race, *, customers: int, coupons_each: int, per_coupon: int, limit: int
) -> RaceResult:
    """``customers`` customers with ``coupons_each`` personal coupons of a campaign limited to
    ``limit`` per customer; all of one customer's coupons are sent ``per_coupon`` times at once.
    Exactly ``limit`` coupons of each customer redeem (repeats 409); the others get 422."""
    tag = f"race-{next(_unique)}"
    async with race.setup_client() as client:
        staff = await tills(client, race.marketer)
        owners = []
        for number in range(customers):
            registered = _created(
                await client.post(
                    "/api/customers",
                    json={
                        "email": f"{tag}-{number}@example.com",
                        "tags": [tag],
                        "consent": {"terms": True, "marketing": True},
                    },
                )
            )
            owners.append((registered["id"], {"Authorization": f"Bearer {registered['token']}"}))
        campaign_id = await campaign(
            client,
            race.marketer,
            "Race: per customer",
            limits={"per_customer": limit},
            segment={"tags_any": [tag]},
        )
        await publish_and_wait(client, race.marketer, campaign_id)
        codes: dict[int, list[str]] = {}
        for customer_id, customer in owners:
            for message in range(coupons_each - 1):  # the publication issued the first one
                _created(
                    await client.post(
                        f"/api/campaigns/{campaign_id}/coupons",
                        json={"customer_id": customer_id, "channel": "email", "message_id": f"m{message}"},
                        headers=race.marketer,
                    )
                )
            mine = _created(await client.get("/api/me/coupons", headers=customer), 200)
            codes[customer_id] = [c["code"] for c in mine if c["campaign"]["id"] == campaign_id]
            assert len(codes[customer_id]) == coupons_each, mine
    till = itertools.cycle(staff)
    requests = [
        (code, next(till))
        for customer_codes in codes.values()
        for code in customer_codes
        for _ in range(per_coupon)
    ]
    responses = await fire(race.urls, requests)
    per_customer = await _figures(
        race.database,
        {
            "customers above the limit": (
                "SELECT count(*) FROM (SELECT customer_id FROM redemptions WHERE campaign_id = :campaign "
                "AND kind = 'redeem' GROUP BY customer_id HAVING count(*) > :limit) AS above"
            ),
            "customers below the limit": (
                "SELECT count(*) FROM customers WHERE id IN (SELECT customer_id FROM coupons "
                "WHERE campaign_id = :campaign) AND (SELECT count(*) FROM redemptions r "
                "WHERE r.campaign_id = :campaign AND r.customer_id = customers.id "
                "AND r.kind = 'redeem') < :limit"
            ),
            "largest per-customer counter": (
                "SELECT max(redeemed) FROM customer_redemption_counts WHERE campaign_id = :campaign"
            ),
        },
        campaign=campaign_id,
        limit=limit,
    )
    redeemed = customers * limit
    return RaceResult(
        "per-customer limit",
        observed={
            **answered(responses),
            **per_customer,
            **await stored_redemptions(race.database, campaign_id),
        },
        allowed={
            "answers": _statuses(
                {
                    201: redeemed,
                    409: redeemed * (per_coupon - 1),
                    422: customers * (coupons_each - limit) * per_coupon,
                }
            ),
            "server errors": [],
            "customers above the limit": 0,
            "customers below the limit": 0,
            "largest per-customer counter": limit,
            **_stored_allowed(redeemed),
        },
    )
