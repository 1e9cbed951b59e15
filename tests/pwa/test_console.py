"""The marketer console in headless Chromium: the charts show the analytics API's numbers, the
exports download CSV, publishing reports what it did, and nothing comes from another origin."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.support.api import Api
from tests.support.browser import accessibility_violations, chromium, file_text, request_log, screenshot

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    async with chromium(tmp_path / "profile", locale="en-GB", timezone_id="Europe/Rome") as context:
        yield context


async def _history(api: Api) -> dict[str, Any]:
    store = await api.store("Centro")
    staff = await api.staff(store)
    customers = [await api.customer() for _ in range(3)]
    campaign = await api.campaign(name="Spring 20%")
    await api.publish(campaign["id"])
    first = (await api.coupons(customers[0][1]))[0]
    second = (await api.coupons(customers[1][1]))[0]
    assert (await api.redeem(staff, first["qr_payload"], order_total=10_000)).status_code == 201
    assert (await api.redeem(staff, second["code"], entry="manual", order_total=5_000)).status_code == 201
    return campaign


async def _chart(page: Page, canvas: str) -> dict[str, Any]:
    data: dict[str, Any] = await page.evaluate(
        """(id) => {
             const chart = Chart.getChart(document.getElementById(id));
             return { labels: chart.data.labels,
                      series: chart.data.datasets.map((set) => ({ label: set.label, data: set.data })) };
           }""",
        canvas,
    )
    return data


async def test_dashboard_draws_the_api_numbers_exports_and_publishes(
    browser: BrowserContext, server: str, live_api: Api
) -> None:
    campaign = await _history(live_api)
    key = (await live_api.marketer())["Authorization"].removeprefix("Bearer ")
    marketer = await live_api.marketer()
    channels = (
        await live_api.client.get(
            "/api/analytics/channels", params={"campaign_id": campaign["id"]}, headers=marketer
        )
    ).json()["rows"]
    media = (
        await live_api.client.get(
            "/api/analytics/channels",
            params={"campaign_id": campaign["id"], "by": "medium"},
            headers=marketer,
        )
    ).json()["rows"]
    requests = request_log(browser)
    page = browser.pages[0]
    await page.set_viewport_size(DESKTOP)
    await page.goto(f"{server}/console/")

    await page.get_by_label("API key").fill("not-a-key")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("This key is not valid for the console.")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()

    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Spring 20%", exact=True))
    await expect(row).to_contain_text("Running")
    await expect(row.get_by_role("cell").last).to_have_text("Publishing")
    await expect(row.get_by_role("cell").nth(2)).to_have_text("3")  # issued
    await expect(row.get_by_role("cell").nth(4)).to_have_text("2")  # redeemed
    await expect(row.get_by_role("cell").nth(5)).to_have_text("66.7%")
    assert await accessibility_violations(page) == []
    await screenshot(page, "console-campaigns.png")

    await row.get_by_role("link", name="Spring 20%").click()
    await expect(page.get_by_role("heading", name="Spring 20%", level=1)).to_be_visible()
    await expect(page.locator("#campaign-facts")).to_contain_text("20% off · Running")
    kpis = page.locator("#kpis")
    await expect(kpis).to_contain_text("Issued3")
    await expect(kpis).to_contain_text("Redeemed2")
    await expect(kpis).to_contain_text("€150.00")
    assert await _chart(page, "chart-channels") == {
        "labels": [row["key"] for row in channels],
        "series": [
            {"label": "Issued", "data": [row["issued"] for row in channels]},
            {"label": "Saved to wallet", "data": [row["saved_to_wallet"] for row in channels]},
            {"label": "Redeemed", "data": [row["redeemed"] for row in channels]},
        ],
    }
    assert await _chart(page, "chart-media") == {
        "labels": [row["key"] for row in media],
        "series": [{"label": "Redeemed", "data": [row["redeemed"] for row in media]}],
    }
    assert (await _chart(page, "chart-media"))["labels"] == ["manual", "pwa"]
    daily = await _chart(page, "chart-daily")
    assert [series["data"] for series in daily["series"]] == [[3], [2]]
    await expect(page.locator("#table-stores")).to_contain_text("Centro")
    assert await accessibility_violations(page) == []
    await screenshot(page, "console-campaign.png")

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export redemptions (CSV)").click()
    exported = file_text(await (await download_info.value).path())
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert sorted(row["medium"] for row in rows) == ["manual", "pwa"]
    assert {row["campaign"] for row in rows} == {"Spring 20%"}

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("status")).to_contain_text("Published: 0 new coupons (3 already had one")
    assert all(url.startswith((server, "data:", "blob:")) for url in requests), requests


async def test_triggered_campaigns_show_their_trigger_and_are_switched_on(
    browser: BrowserContext, server: str, live_api: Api
) -> None:
    first = await live_api.campaign(name="First visit")
    second = await live_api.campaign(
        name="Second visit", trigger={"kind": "on_redemption", "campaign_id": first["id"]}
    )
    await live_api.campaign(name="Welcome", trigger={"kind": "on_registration"})
    await live_api.campaign(name="We miss you", trigger={"kind": "inactive_for", "days": 30})
    key = (await live_api.marketer())["Authorization"].removeprefix("Bearer ")
    requests = request_log(browser)
    page = browser.pages[0]
    await page.set_viewport_size(DESKTOP)
    await page.goto(f"{server}/console/")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()

    def row(name: str) -> Any:
        return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name, exact=True))

    await expect(row("First visit").get_by_role("cell").last).to_have_text("Publishing")
    await expect(row("Second visit").get_by_role("cell").last).to_have_text("Redeeming “First visit”")
    await expect(row("Welcome").get_by_role("cell").last).to_have_text("Registration (welcome)")
    await expect(row("We miss you").get_by_role("cell").last).to_have_text("30 days without a redemption")
    assert await accessibility_violations(page) == []

    await row("Second visit").get_by_role("link", name="Second visit").click()
    await expect(page.get_by_role("heading", name="Second visit", level=1)).to_be_visible()
    await expect(page.locator("#campaign-trigger")).to_have_text("Issued by: Redeeming “First visit”")
    await expect(page.locator("#campaign-facts")).to_contain_text("Draft")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Switch on").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Switched on: coupons go out when the trigger fires."
    )
    await expect(page.locator("#campaign-facts")).to_contain_text("Running")
    await expect(page.get_by_role("button", name="Switch on")).to_be_hidden()
    shown = await live_api.client.get(f"/api/campaigns/{second['id']}", headers=await live_api.marketer())
    assert shown.json()["status"] == "running"
    assert await accessibility_violations(page) == []
    await screenshot(page, "console-triggered-campaign.png")

    await page.get_by_label("Language").select_option("it")
    await expect(page.locator("#campaign-trigger")).to_have_text("Emesso con: Riscatto di «First visit»")
    await page.get_by_role("link", name="Tutte le campagne").click()
    await expect(row("We miss you").get_by_role("cell").last).to_have_text("30 giorni senza riscatti")
    await expect(row("Welcome").get_by_role("cell").last).to_have_text("Registrazione (benvenuto)")
    assert all(url.startswith((server, "data:", "blob:")) for url in requests), requests
