"""The member card in real headless Chromium: the customer app's "Member card" view (QR code the
till reads, both wallet buttons, offline, Italian), and the staff scanner reading the card with a
fake camera, listing only the member's open coupons and redeeming one with a tap (medium
``member_card``)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from PIL import Image
from playwright.async_api import BrowserContext, Page, expect

from tessera.codes.formats import MEMBER_CODE_LENGTH, MEMBER_RESIDUE, group, random_code_from_bytes
from tessera.core.db.base import sqlite_time
from tessera.core.settings import Settings
from tessera.wallet.google.service_account import ServiceAccount
from tests.support.api import Api, Headers, iso
from tests.support.barcodes import decode_qr, qr_picture
from tests.support.browser import accessibility_violations, camera_frame, chromium, request_log, screenshot
from tests.support.customer_app import open_app, register
from tests.support.staff_scanner import redemption_media, scanner_store, sign_in_to_scanner, staff_account

pytestmark = pytest.mark.browser


async def member_card(api: Api, customer: Headers) -> dict[str, Any]:
    response = await api.client.get("/api/me/card", headers=customer)
    assert response.status_code == 200, response.text
    card: dict[str, Any] = response.json()
    return card


async def test_the_member_card_view_shows_the_qr_the_till_reads_and_adds_the_card_to_wallets(
    tmp_path: Path, server: str, live_api: Api, settings: Settings
) -> None:
    async with chromium(tmp_path / "customer", locale="en-GB") as context:
        requests = request_log(context)
        page = await open_app(context, server)
        customer = await register(page, "ada@example.com", name="Ada Lovelace")
        card = await member_card(live_api, customer)
        await page.get_by_role("button", name="Show my member card").click()
        await expect(page.get_by_role("heading", name="Member card")).to_be_focused()
        qr = page.get_by_role("img", name=f"QR code of member card {card['code_display']}")
        await expect(qr).to_be_visible()
        await expect(page.locator("#member-number")).to_have_text(card["code_display"])
        assert await accessibility_violations(page) == []
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        await screenshot(page, "customer-member-card.png")
        assert decode_qr(await qr.screenshot()) == card["qr_payload"]

        # Offline at the till: the card still shows, from the phone.
        await context.set_offline(True)
        await page.reload()
        await page.get_by_role("button", name="Show my member card").click()
        await expect(qr).to_be_visible()
        assert await qr.evaluate("image => image.complete && image.naturalWidth > 0")
        assert decode_qr(await qr.screenshot()) == card["qr_payload"]
        await context.set_offline(False)

        await page.get_by_label("Language").select_option("it")
        await expect(page.get_by_role("heading", name="Tessera socio")).to_be_visible()
        await expect(page.get_by_role("button", name="Aggiungi a Apple Wallet")).to_be_visible()
        assert await accessibility_violations(page) == []
        await page.get_by_label("Lingua").select_option("en")

        async with page.expect_download() as download_info:
            await page.get_by_role("button", name="Add to Apple Wallet").click()
        download = await download_info.value
        assert download.suggested_filename == "member-card.pkpass"
        with zipfile.ZipFile(Path(await download.path())) as archive:
            data = json.loads(archive.read("pass.json"))
            assert {"manifest.json", "signature", "icon.png"} <= set(archive.namelist())
        assert "storeCard" in data
        assert data["barcodes"][0]["message"] == f"TSM1:A:{card['member_code']}"

        opened: list[str] = []

        async def google(route: Any) -> None:
            opened.append(route.request.url)
            await route.fulfill(body="<!doctype html><title>Google Wallet</title>", content_type="text/html")

        await page.route("https://pay.google.com/**", google)
        await page.get_by_role("button", name="Add to Google Wallet").click()
        await page.wait_for_url("https://pay.google.com/**")
        (url,) = opened
        account = ServiceAccount.from_file(Path(str(settings.google.service_account_path)))
        claims = jwt.decode(
            url.rsplit("/", 1)[1], account.public_key(), algorithms=["RS256"], audience="google"
        )
        (loyalty,) = claims["payload"]["loyaltyObjects"]
        assert loyalty["barcode"]["value"] == f"TSM1:G:{card['member_code']}"
        assert all(
            address.startswith((server, "data:", "blob:", "https://pay.google.com/")) for address in requests
        ), requests


# --- the staff scanner ---------------------------------------------------------------------------


async def coupons_of(api: Api, customer: Headers) -> dict[str, dict[str, Any]]:
    return {coupon["campaign"]["name"]: coupon for coupon in await api.coupons(customer)}


async def member_with_coupons(api: Api, name: str) -> tuple[Headers, Headers]:
    """A member with two open coupons ("Spring 20%", "Coffee"), one redeemed ("Used"), one
    expired ("Gone") and one not valid yet ("Next week"); and another customer with coupons of
    their own ("Spring 20%", "Only theirs")."""
    _, member = await api.customer(name=name, tags=["member"])
    _, other = await api.customer(tags=["other"])
    now = datetime.now(UTC)
    for campaign in (
        {"name": "Spring 20%"},
        {"name": "Coffee", "discount": {"kind": "free_item", "value": 1}},
        {"name": "Used"},
        {"name": "Gone"},
        {
            "name": "Next week",
            "starts_at": iso(now + timedelta(days=7)),
            "ends_at": iso(now + timedelta(days=30)),
        },
        {"name": "Only theirs", "segment": {"tags_any": ["other"]}},
    ):
        created = await api.campaign(**campaign)
        await api.publish(created["id"])
    mine = await coupons_of(api, member)
    assert (await api.redeem(await api.staff(), mine["Used"]["code"])).status_code == 201
    # The live server keeps real time: "Gone" ran out an hour ago.
    await api.sql(
        "UPDATE coupons SET expires_at = :at WHERE id = :id",
        at=sqlite_time(now - timedelta(hours=1)),
        id=mine["Gone"]["id"],
    )
    statuses = {name: coupon["status"] for name, coupon in (await coupons_of(api, member)).items()}
    assert statuses == {
        "Spring 20%": "active",
        "Coffee": "active",
        "Used": "redeemed",
        "Gone": "expired",
        "Next week": "scheduled",
    }
    return member, other


@pytest.fixture
async def scanner(tmp_path: Path, server: str, live_api: Api) -> AsyncIterator[Any]:
    """``await scanner(picture, auto_redeem=...)``: a signed-in till whose camera shows ``picture``."""
    opened: list[Any] = []

    async def open_scanner(
        picture: Image.Image, *, auto_redeem: bool
    ) -> tuple[BrowserContext, Page, list[str]]:
        username = await staff_account(live_api, await scanner_store(live_api, auto_redeem=auto_redeem))
        frame = camera_frame(picture, tmp_path / f"frame-{len(opened)}.y4m")
        manager = chromium(tmp_path / f"till-{len(opened)}", camera=frame, locale="en-GB")
        context = await manager.__aenter__()
        opened.append(manager)
        requests = request_log(context)
        page = context.pages[0]
        await sign_in_to_scanner(page, server, username)
        return context, page, requests

    yield open_scanner
    for manager in reversed(opened):
        await manager.__aexit__(None, None, None)


async def test_the_apple_pass_member_card_lists_only_open_coupons_and_one_tap_redeems(
    scanner: Any, server: str, live_api: Api
) -> None:
    member, other = await member_with_coupons(live_api, "Ada Lovelace")
    download = await live_api.client.get("/api/me/card/pass.pkpass", headers=member)
    assert download.status_code == 200, download.text
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        (barcode,) = json.loads(archive.read("pass.json"))["barcodes"]
    # A store that redeems coupons at once still lets staff choose among a member's coupons.
    _, page, requests = await scanner(qr_picture(barcode["message"]), auto_redeem=True)

    sheet = page.get_by_role("dialog", name="Member card")
    await expect(sheet).to_be_visible(timeout=15_000)
    await expect(sheet).to_contain_text("Ada L. · card …")
    items = sheet.locator(".member-coupon")
    await expect(items).to_have_count(2)
    await expect(items.nth(0)).to_contain_text("Spring 20%")
    await expect(items.nth(0)).to_contain_text("20% off")
    await expect(items.nth(1)).to_contain_text("Coffee")
    await expect(items.nth(1)).to_contain_text("Free item")
    for absent in ("Used", "Gone", "Next week", "Only theirs", "Lovelace", "@example.com"):
        await expect(sheet).not_to_contain_text(absent)
    assert await accessibility_violations(page) == []
    await screenshot(page, "staff-member.png")

    await sheet.get_by_role("button", name="Redeem 20% off · Spring 20%").click()
    result = page.get_by_role("alertdialog")
    await expect(result).to_contain_text("Redeemed — 20% off")
    await expect(result).to_contain_text("Spring 20%")
    await expect(result).to_have_class("result ok")
    mine, theirs = await coupons_of(live_api, member), await coupons_of(live_api, other)
    assert mine["Spring 20%"]["status"] == "redeemed"
    assert mine["Coffee"]["status"] == "active"
    assert theirs["Spring 20%"]["status"] == "active"
    assert await redemption_media(live_api, mine["Spring 20%"]["id"]) == ["member_card"]
    # The card stayed in front of the camera: one read, one lookup.
    assert len([url for url in requests if url.endswith("/api/members/lookup")]) == 1
    assert all(url.startswith((server, "data:", "blob:")) for url in requests), requests


async def test_the_pwa_member_card_read_by_the_camera_and_typed_numbers(
    tmp_path: Path, scanner: Any, server: str, live_api: Api
) -> None:
    async with chromium(tmp_path / "customer", locale="en-GB") as customer_browser:
        page = await open_app(customer_browser, server)
        member = await register(page, "grace@example.com", name="Grace Hopper")
        campaign = await live_api.campaign(name="Pizza night")
        await live_api.publish(campaign["id"])
        await page.get_by_role("button", name="Show my member card").click()
        card = await member_card(live_api, member)
        qr = page.get_by_role("img", name=f"QR code of member card {card['code_display']}")
        await expect(qr).to_be_visible()
        shown = Image.open(io.BytesIO(await qr.screenshot()))  # the phone's screen, as the camera sees it

    _, till, _ = await scanner(shown, auto_redeem=False)
    sheet = till.get_by_role("dialog", name="Member card")
    await expect(sheet).to_be_visible(timeout=15_000)
    await expect(sheet).to_contain_text("Grace H.")
    await sheet.get_by_role("button", name="Redeem 20% off · Pizza night").click()
    await expect(till.get_by_role("alertdialog")).to_contain_text("Redeemed — 20% off")
    (coupon,) = await live_api.coupons(member)
    assert coupon["status"] == "redeemed"
    assert await redemption_media(live_api, coupon["id"]) == ["member_card"]
    await till.get_by_role("button", name="Next customer").click()

    # The number typed by hand finds the member too; nothing is left open now.
    await till.get_by_label("Type a code").fill(card["code_display"].lower())
    await till.get_by_role("button", name="Check").click()
    await expect(sheet).to_be_visible()
    await expect(sheet).to_contain_text("No open coupons for this member.")
    await sheet.get_by_role("button", name="Close").click()
    await expect(sheet).to_be_hidden()

    # A number that is not a member card's gets the red answer, like a bad coupon.
    forged = group(random_code_from_bytes(b"\x07" * (MEMBER_CODE_LENGTH - 1), MEMBER_RESIDUE))
    await till.get_by_label("Type a code").fill(forged)
    await till.get_by_role("button", name="Check").click()
    result = till.get_by_role("alertdialog")
    await expect(result).to_contain_text("Not a valid member card")
    await expect(result).to_have_class("result bad")
    assert await accessibility_violations(till) == []
