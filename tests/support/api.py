"""A small client for the public API, so tests read as the scenario they check."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import text

from tessera.auth.services import create_api_key
from tessera.core.clock import Clock
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import Settings
from tessera.http.context import AppContext

Headers = dict[str, str]
_counter = itertools.count(1)


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def problem(response: Response, status: int, code: str) -> dict[str, Any]:
    """Assert an RFC 9457 answer with ``status`` and ``code``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"].endswith(code)
    assert body["title"]
    assert body["detail"]
    return body


async def publish_and_wait(client: AsyncClient, marketer: Headers, campaign_id: int) -> dict[str, Any]:
    """``POST …/publish`` (202), then the job's progress view once it is no longer running."""
    response = await client.post(f"/api/campaigns/{campaign_id}/publish", headers=marketer)
    assert response.status_code == 202, response.text
    return await job_done(client, marketer, response.json()["progress_url"])


async def job_done(
    client: AsyncClient, marketer: Headers, progress_url: str, polls: int = 500
) -> dict[str, Any]:
    """Poll a job's progress view until it is no longer running (at most ``polls`` times)."""
    for _ in range(polls):
        response = await client.get(progress_url, headers=marketer)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] != "running":
            return job
        await asyncio.sleep(0.01)
    raise AssertionError(f"the job at {progress_url} is still running")


class Api:
    """Over the in-process test client, or over HTTP to a live server (browser tests)."""

    def __init__(self, client: AsyncClient, clock: Clock, settings: Settings) -> None:
        self.client = client
        self.clock = clock
        self.settings = settings
        self._marketer: Headers | None = None

    @property
    def ctx(self) -> AppContext:
        context: AppContext = self.client.app.state.ctx  # type: ignore[attr-defined]
        return context

    async def sql(self, statement: str, **params: Any) -> list[Any]:
        """Rows of one SQL statement, on an engine of the test's own loop (the app runs on the
        test client's loop, whose connections cannot be shared)."""
        engine = create_engine(self.settings.database)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(statement), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    async def marketer(self) -> Headers:
        if self._marketer is None:
            # The app runs on the test client's own loop: use an engine of this loop.
            engine = create_engine(self.settings.database)
            try:
                key = await create_api_key(session_factory(engine), self.clock, "tests", "marketer")
            finally:
                await engine.dispose()
            self._marketer = bearer(key)
        return self._marketer

    async def store(self, name: str = "Store") -> int:
        response = await self.client.post(
            "/api/stores", json={"name": name, "timezone": "Europe/Budapest"}, headers=await self.marketer()
        )
        assert response.status_code == 201, response.text
        store_id: int = response.json()["id"]
        return store_id

    async def staff(self, store_id: int | None = None, *, can_void: bool = True) -> Headers:
        if store_id is None:
            store_id = await self.store()
        username = f"staff{next(_counter)}"
        password = "correct horse battery"
        response = await self.client.post(
            "/api/staff",
            json={"username": username, "password": password, "store_id": store_id, "can_void": can_void},
            headers=await self.marketer(),
        )
        assert response.status_code == 201, response.text
        login = await self.client.post(
            "/api/auth/staff/login", json={"username": username, "password": password}
        )
        assert login.status_code == 200, login.text
        return bearer(login.json()["token"])

    async def customer(
        self, *, marketing: bool = True, tags: list[str] | None = None, **fields: Any
    ) -> tuple[int, Headers]:
        body: dict[str, Any] = {
            "email": f"customer{next(_counter)}@example.com",
            "consent": {"terms": True, "marketing": marketing},
            "tags": tags or [],
            **fields,
        }
        response = await self.client.post("/api/customers", json=body)
        assert response.status_code == 201, response.text
        data = response.json()
        return data["id"], bearer(data["token"])

    async def campaign(self, **overrides: Any) -> dict[str, Any]:
        now = self.clock.now()
        body: dict[str, Any] = {
            "name": "Spring 20%",
            "description": "20% off everything",
            "discount": {"kind": "percent", "value": 20},
            "starts_at": iso(now - timedelta(hours=1)),
            "ends_at": iso(now + timedelta(days=30)),
            "coupon_valid_days": 7,
            "limits": {"per_customer": 1},
            **overrides,
        }
        response = await self.client.post("/api/campaigns", json=body, headers=await self.marketer())
        assert response.status_code == 201, response.text
        campaign: dict[str, Any] = response.json()
        return campaign

    async def publish(self, campaign_id: int) -> dict[str, Any]:
        """Publish and wait for the job: its final progress view."""
        return await publish_and_wait(self.client, await self.marketer(), campaign_id)

    async def coupons(self, customer: Headers) -> list[dict[str, Any]]:
        response = await self.client.get("/api/me/coupons", headers=customer)
        assert response.status_code == 200, response.text
        coupons: list[dict[str, Any]] = response.json()
        return coupons

    async def redeem(self, staff: Headers, code: str, *, key: str | None = None, **extra: Any) -> Response:
        headers = dict(staff)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.client.post("/api/redemptions", json={"code": code, **extra}, headers=headers)
