"""Unassigned codes for print lists: generated in the background, exported as CSV, redeemable."""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tessera.codes.formats import is_valid_random
from tessera.core.db.base import sqlite_time
from tessera.core.db.sqlite_worker import immediate_transaction
from tests.support.api import Api, problem
from tests.support.asgi import call_app


async def _wait_done(api: Api, url: str) -> dict[str, object]:
    for _ in range(200):
        batch = (await api.client.get(url, headers=await api.marketer())).json()
        if batch["status"] == "done":
            return dict(batch)
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch not finished: {batch}")


async def test_bulk_codes_export_and_redeem(api: Api) -> None:
    campaign = await api.campaign(limits={"per_customer": None})
    marketer = await api.marketer()
    response = await api.client.post(
        f"/api/campaigns/{campaign['id']}/codes",
        json={"count": 12_345, "channel": "print"},
        headers={**marketer, "Idempotency-Key": "print-run-1"},
    )
    assert response.status_code == 202, response.text
    batch = response.json()
    replay = await api.client.post(
        f"/api/campaigns/{campaign['id']}/codes",
        json={"count": 12_345, "channel": "print"},
        headers={**marketer, "Idempotency-Key": "print-run-1"},
    )
    assert replay.json()["id"] == batch["id"]
    done = await _wait_done(api, batch["progress_url"])
    assert done["generated"] == 12_345

    export = await api.client.get(batch["export_url"], headers=marketer)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == 12_345
    codes = [row["code"] for row in rows]
    assert len(set(codes)) == len(codes)
    assert all(is_valid_random(code) for code in codes)
    assert (await api.sql("SELECT count(*) FROM coupons"))[0][0] == 12_345
    issued = await api.sql("SELECT sum(quantity) FROM events WHERE type = 'issued' AND channel = 'print'")
    assert issued[0][0] == 12_345

    staff = await api.staff()
    redeemed = await api.redeem(staff, codes[100])
    assert redeemed.status_code == 201
    assert redeemed.json()["channel"] == "print"
    problem(await api.redeem(staff, codes[100]), 409, "already_redeemed")


async def test_bulk_codes_limits_and_ean(api: Api) -> None:
    marketer = await api.marketer()
    campaign = await api.campaign(code={"format": "ean13"})
    problem(
        await api.client.post(f"/api/campaigns/{campaign['id']}/codes", json={"count": 0}, headers=marketer),
        400,
        "invalid_input",
    )
    problem(
        await api.client.post("/api/campaigns/999/codes", json={"count": 5}, headers=marketer),
        404,
        "campaign_not_found",
    )
    response = await api.client.post(
        f"/api/campaigns/{campaign['id']}/codes", json={"count": 50}, headers=marketer
    )
    await _wait_done(api, response.json()["progress_url"])
    export = await api.client.get(f"/api/campaigns/{campaign['id']}/codes?format=csv", headers=marketer)
    codes = [row["code"] for row in csv.DictReader(io.StringIO(export.text))]
    assert len(codes) == 50
    assert all(len(c) == 13 and c.startswith("99") for c in codes)
    staff = await api.staff()
    assert (await api.redeem(staff, codes[0])).json()["medium"] == "print"


async def test_an_export_left_part_way_gives_its_connection_back(api: Api) -> None:
    campaign = await api.campaign(limits={"per_customer": None})
    marketer = await api.marketer()
    response = await api.client.post(
        f"/api/campaigns/{campaign['id']}/codes", json={"count": 5_000}, headers=marketer
    )
    batch = response.json()
    await _wait_done(api, batch["progress_url"])
    app: Any = api.client.app
    pool = app.state.ctx.readers.kw["bind"].pool

    async def leave() -> list[dict[str, Any]]:
        return await call_app(
            app,
            "GET",
            f"/api/campaigns/{campaign['id']}/codes",
            headers=[(b"authorization", marketer["Authorization"].encode())],
            leave_after_bodies=1,
        )

    unraisable: list[Any] = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        sent = api.client.blocking_portal.call(leave)  # type: ignore[attr-defined]
        gc.collect()
    finally:
        sys.unraisablehook = previous_hook
    assert sent[0]["status"] == 200
    bodies = [message for message in sent if message["type"] == "http.response.body"]
    assert len(bodies) < 5, "the export went on after the client left"
    assert pool.checkedout() == 0
    assert [hook.exc_value for hook in unraisable] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_marketers_change_goes_before_the_next_of_queued_background_calls(api: Api) -> None:
    """Code batches and publish jobs running together queue their chunks on the SQLite thread
    back to back. A marketer's change, written on SQLAlchemy's connection, found no gap between
    them and waited out its busy timeout (503 after 10 s; a timeout in the command-line contract
    run). The app's engine tells the thread that its writer waits, and goes next."""
    worker = api.ctx.sqlite_writer
    assert worker is not None
    marketer = await api.marketer()
    now = sqlite_time(api.clock.now())
    holding = threading.Event()

    def chunk(name: str) -> Callable[[sqlite3.Connection], None]:
        def work(connection: sqlite3.Connection) -> None:
            with immediate_transaction(connection):
                connection.execute(
                    "INSERT INTO stores (name, timezone, auto_redeem, created_at) VALUES (?, 'UTC', 0, ?)",
                    (name, now),
                )
                if name != "chunk 0":
                    return
                # Chunk 0 holds the write lock until the marketer's change waits for it (the
                # in-process client holds this test's loop while the app answers).
                holding.set()
                deadline = time.monotonic() + 10
                while not worker.writers_waiting and time.monotonic() < deadline:
                    time.sleep(0.001)

        return work

    chunks = [asyncio.ensure_future(worker.run(chunk(f"chunk {i}"), background=True)) for i in range(20)]
    assert await asyncio.to_thread(holding.wait, 10)  # chunk 0 holds the lock; the others are queued
    created = await api.client.post("/api/stores", json={"name": "new"}, headers=marketer)
    await asyncio.gather(*chunks)
    assert created.status_code == 201, created.text
    stores = (await api.client.get("/api/stores", headers=marketer)).json()
    assert [store["name"] for store in stores][:3] == ["chunk 0", "new", "chunk 1"]
