"""The staff scanner's side of the browser tests: a store and a till account made through the
API, signing in on the scanner page, and the redemptions the scanner made, read back from the
marketers' export."""

from __future__ import annotations

import csv
import io

from playwright.async_api import Page, expect

from tests.support.api import Api

STAFF_PASSWORD = "till password 1234"
STORE_NAME = "Corso Como"


async def scanner_store(api: Api, *, auto_redeem: bool) -> int:
    """A new store named ``STORE_NAME``, redeeming a valid read at once or after a tap."""
    response = await api.client.post(
        "/api/stores",
        json={"name": STORE_NAME, "timezone": "Europe/Rome", "auto_redeem": auto_redeem},
        headers=await api.marketer(),
    )
    assert response.status_code == 201, response.text
    store_id: int = response.json()["id"]
    return store_id


async def staff_account(api: Api, store_id: int, *, can_void: bool = True) -> str:
    """A till account of the store, with ``STAFF_PASSWORD``; its username."""
    username = f"till{store_id}"
    response = await api.client.post(
        "/api/staff",
        json={"username": username, "password": STAFF_PASSWORD, "store_id": store_id, "can_void": can_void},
        headers=await api.marketer(),
    )
    assert response.status_code == 201, response.text
    return username


async def sign_in_to_scanner(page: Page, server: str, username: str) -> None:
    await page.goto(f"{server}/staff/")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(STAFF_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#who")).to_contain_text(f"{username} · {STORE_NAME}")


async def standing_redemptions(api: Api, coupon_id: int) -> list[dict[str, str]]:
    """The coupon's standing redemptions, as rows of the marketers' export."""
    coupon = (await api.sql("SELECT campaign_id FROM coupons WHERE id = :id", id=coupon_id))[0][0]
    export = await api.client.get(
        "/api/analytics/redemptions.csv", params={"campaign_id": coupon}, headers=await api.marketer()
    )
    assert export.status_code == 200, export.text
    rows: list[dict[str, str]] = []
    for row in csv.DictReader(io.StringIO(export.text)):
        if row["coupon_id"] == str(coupon_id):
            if row["event"] == "redeemed":
                rows.append(row)
            else:
                rows.pop()
    return rows


async def redemption_media(api: Api, coupon_id: int) -> list[str]:
    """The media of the coupon's standing redemptions, as the marketers' export shows them."""
    return [row["medium"] for row in await standing_redemptions(api, coupon_id)]
