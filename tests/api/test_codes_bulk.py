"""Unassigned codes for print lists: generated in the background, exported as CSV, redeemable."""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import sys
from typing import Any

from tessera.codes.formats import is_valid_random
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
