"""Contest helpers for the tests: a contest, its printed codes through the CSV export, entries,
and an implementation of the draw of its own (hashlib and hmac only) to hold the API's against."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
from datetime import timedelta
from typing import Any

from httpx import Response

from tests.support.api import Api, Headers, iso


async def contest(api: Api, **overrides: Any) -> dict[str, Any]:
    now = api.clock.now()
    body: dict[str, Any] = {
        "kind": "points",
        "name": "Summer caps",
        "starts_at": iso(now - timedelta(hours=1)),
        "ends_at": iso(now + timedelta(days=10)),
        **overrides,
    }
    response = await api.client.post("/api/contests", json=body, headers=await api.marketer())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def printed_codes(api: Api, contest_id: int, count: int, **batch: Any) -> list[dict[str, str]]:
    """A print run through the background batch and its CSV export (rows of the CSV)."""
    marketer = await api.marketer()
    response = await api.client.post(
        f"/api/contests/{contest_id}/codes", json={"count": count, **batch}, headers=marketer
    )
    assert response.status_code == 202, response.text
    created = response.json()
    for _ in range(400):
        progress = (await api.client.get(created["progress_url"], headers=marketer)).json()
        if progress["status"] == "done":
            break
        await asyncio.sleep(0.05)
    assert progress["status"] == "done", progress
    export = await api.client.get(created["export_url"], headers=marketer)
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == count
    return rows


async def enter(api: Api, contest_id: int, customer: Headers, code: str, **headers: str) -> Response:
    return await api.client.post(
        f"/api/contests/{contest_id}/entries", json={"code": code}, headers={**customer, **headers}
    )


def recompute_winners(record: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    """The documented draw, written again from its description: top places by (points desc,
    reached_at asc, id asc); the rest ordered by the hex of HMAC-SHA256(seed, id)."""
    seed = bytes.fromhex(record["seed"])
    assert hashlib.sha256(seed).hexdigest() == record["commitment"]
    lines = [f"{p['id']}\t{p['points']}\t{p['reached_at']}\n" for p in record["participants"]]
    assert hashlib.sha256("".join(lines).encode()).hexdigest() == record["participants_digest"]

    by_rank = sorted(record["participants"], key=lambda p: p["id"])
    by_rank.sort(key=lambda p: p["reached_at"])
    by_rank.sort(key=lambda p: p["points"], reverse=True)  # stable sorts: the last key first
    assert by_rank == record["participants"]

    awarded: list[tuple[str, str, int, str]] = []
    cursor = 0
    for prize in record["top"]:
        for _ in range(prize["count"]):
            if cursor < len(by_rank):
                awarded.append((by_rank[cursor]["id"], "top", cursor + 1, prize["name"]))
            cursor += 1
    others = by_rank[cursor:]
    ticket = {p["id"]: hmac.new(seed, p["id"].encode("utf-8"), "sha256").hexdigest() for p in others}
    others = sorted(others, key=lambda p: (ticket[p["id"]], p["id"]))
    place = 0
    for prize in record["consolation"]:
        for _ in range(prize["count"]):
            if place < len(others):
                awarded.append((others[place]["id"], "consolation", place + 1, prize["name"]))
            place += 1
    return awarded
