"""The staff scanner in real headless Chromium with a fake camera showing a coupon's real barcode:
one read, one redemption, one clear answer; retries that never redeem twice; our origin only."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import BrowserContext, Page, Request, Route, expect

from tests.support.api import Api
from tests.support.barcodes import ean13_picture, qr_picture
from tests.support.browser import (
    accessibility_violations,
    camera_frame,
    chromium,
    request_log,
    screenshot,
    service_worker_registration,
)
from tests.support.staff_scanner import (
    STAFF_PASSWORD,
    redemption_media,
    scanner_store,
    sign_in_to_scanner,
    staff_account,
    standing_redemptions,
)

pytestmark = pytest.mark.browser


async def coupon_of_new_customer(api: Api, **campaign: Any) -> tuple[dict[str, Any], dict[str, str]]:
    _, customer = await api.customer()
    created = await api.campaign(**campaign)
    await api.publish(created["id"])
    (coupon,) = await api.coupons(customer)
    return coupon, customer


def redemption_posts(context: BrowserContext) -> list[Request]:
    posts: list[Request] = []

    def seen(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/api/redemptions"):
            posts.append(request)

    context.on("request", seen)
    return posts


# Every dialog the page opens, in order, so a test can tell one was never shown.
DIALOG_LOG = """
window.openedDialogs = [];
const showModal = HTMLDialogElement.prototype.showModal;
HTMLDialogElement.prototype.showModal = function () {
  window.openedDialogs.push(this.id);
  return showModal.call(this);
};
"""


@dataclass
class Till:
    """A signed-in scanner page whose fake camera shows one picture, with every request logged."""

    browser: BrowserContext
    page: Page
    username: str
    requests: list[str]
    posts: list[Request]

    def only_our_origin(self, server: str) -> bool:
        return all(url.startswith((server, "data:", "blob:")) for url in self.requests)

    async def opened_dialogs(self) -> list[str]:
        """The ids of the dialogs the page has opened since it was loaded."""
        opened: list[str] = await self.page.evaluate("window.openedDialogs")
        return opened


NOTHING = Image.new("L", (64, 48), 255)  # a camera that sees no code


@pytest.fixture
async def till(tmp_path: Path, server: str, live_api: Api) -> AsyncIterator[Any]:
    """``await till(picture, auto_redeem=...)``: a store, its staff account, and a scanner."""
    opened: list[Any] = []

    async def open_till(picture: Image.Image, *, auto_redeem: bool) -> Till:
        username = await staff_account(live_api, await scanner_store(live_api, auto_redeem=auto_redeem))
        frame = camera_frame(picture, tmp_path / f"frame-{len(opened)}.y4m")
        manager = chromium(tmp_path / f"profile-{len(opened)}", camera=frame, locale="en-GB")
        browser = await manager.__aenter__()
        opened.append(manager)
        await browser.add_init_script(DIALOG_LOG)
        scanner = Till(browser, browser.pages[0], username, request_log(browser), redemption_posts(browser))
        await sign_in_to_scanner(scanner.page, server, username)
        return scanner

    yield open_till
    for manager in reversed(opened):
        await manager.__aexit__(None, None, None)


async def test_card_qr_read_once_redeemed_with_a_tap_and_held_for_five_seconds(
    till: Any, server: str, live_api: Api
) -> None:
    coupon, _ = await coupon_of_new_customer(live_api, name="Spring 20%")
    scanner = await till(qr_picture(coupon["qr_payload"]), auto_redeem=False)
    page = scanner.page

    sheet = page.get_by_role("dialog", name="Valid coupon")
    await expect(sheet).to_be_visible(timeout=15_000)
    await expect(sheet).to_contain_text("20% off")
    await expect(sheet).to_contain_text("Spring 20%")
    await screenshot(page, "staff-offer.png")
    assert scanner.posts == []  # nothing redeemed before the tap
    await sheet.get_by_role("button", name="Redeem").click()
    result = page.get_by_role("alertdialog")
    await expect(result).to_contain_text("Redeemed — 20% off")
    await expect(result).to_have_class("result ok")
    assert await accessibility_violations(page) == []
    await screenshot(page, "staff-redeemed.png")

    # The same coupon stays in front of the camera: no second request, no confusing answer.
    await page.wait_for_timeout(5_000)
    assert len(scanner.posts) == 1
    validations = [url for url in scanner.requests if url.endswith("/api/redemptions/validate")]
    assert len(validations) == 1
    await expect(page.get_by_role("dialog", name="Valid coupon")).to_be_hidden()
    assert await redemption_media(live_api, coupon["id"]) == ["pwa"]
    assert scanner.only_our_origin(server), scanner.requests


async def test_apple_pass_qr_redeemed_at_once_when_the_store_says_so(
    till: Any, server: str, live_api: Api
) -> None:
    coupon, customer = await coupon_of_new_customer(live_api, name="Pizza night")
    download = await live_api.client.get(coupon["apple_pass_url"], headers=customer)
    assert download.status_code == 200, download.text
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        (barcode,) = json.loads(archive.read("pass.json"))["barcodes"]
    scanner = await till(qr_picture(barcode["message"]), auto_redeem=True)
    page = scanner.page

    await expect(page.get_by_role("alertdialog")).to_contain_text("Redeemed — 20% off", timeout=15_000)
    await expect(page.get_by_role("alertdialog")).to_contain_text("Pizza night")
    assert await redemption_media(live_api, coupon["id"]) == ["apple_wallet"]
    assert scanner.only_our_origin(server), scanner.requests


async def test_printed_ean13_redeems_then_reads_as_already_redeemed_here(
    till: Any, server: str, live_api: Api
) -> None:
    coupon, _ = await coupon_of_new_customer(live_api, name="Coffee on us", code={"format": "ean13"})
    assert len(coupon["code"]) == 13
    scanner = await till(ean13_picture(coupon["code"]), auto_redeem=True)
    page = scanner.page
    await expect(page.get_by_role("alertdialog")).to_contain_text("Redeemed — 20% off", timeout=15_000)
    assert await redemption_media(live_api, coupon["id"]) == ["print"]

    # Scanned again later (a new read): red, with when and where it was redeemed.
    await page.reload()
    result = page.get_by_role("alertdialog")
    await expect(result).to_contain_text("Already redeemed at", timeout=15_000)
    await expect(result).to_contain_text("in Corso Como")
    await expect(result).to_have_class("result bad")
    assert await accessibility_violations(page) == []
    await screenshot(page, "staff-already-redeemed.png")
    assert await redemption_media(live_api, coupon["id"]) == ["print"]


async def test_manual_entry_offline_notice_shift_view_and_void(till: Any, server: str, live_api: Api) -> None:
    coupon, customer = await coupon_of_new_customer(live_api, name="Spring 20%")
    scanner = await till(NOTHING, auto_redeem=False)
    browser, page = scanner.browser, scanner.page
    await expect(page.get_by_role("status").filter(has_text="Point the camera")).to_be_visible()
    assert await accessibility_violations(page) == []
    await screenshot(page, "staff-camera.png")

    await browser.set_offline(True)
    await expect(page.get_by_text("Offline: codes cannot be checked")).to_be_visible()
    await page.get_by_label("Type a code").fill(coupon["code_display"])
    await page.get_by_role("button", name="Check").click()
    await expect(page.get_by_role("alertdialog")).to_contain_text("No connection: the code was not checked")
    await page.get_by_role("button", name="Next customer").click()
    await browser.set_offline(False)

    await page.get_by_label("Type a code").fill(coupon["code_display"].lower())
    await page.get_by_role("button", name="Check").click()
    await page.get_by_role("dialog", name="Valid coupon").get_by_role("button", name="Redeem").click()
    await expect(page.get_by_role("alertdialog")).to_contain_text("Redeemed — 20% off")
    assert await redemption_media(live_api, coupon["id"]) == ["manual"]
    await page.get_by_role("button", name="Next customer").click()

    await page.get_by_role("button", name="Shift").click()
    entries = page.locator(".scan-entry")
    await expect(entries).to_have_count(2)
    await expect(entries.nth(0)).to_contain_text("20% off · Spring 20%")
    await expect(entries.nth(1)).to_contain_text("No connection")
    page.once("dialog", lambda dialog: dialog.accept())
    await entries.nth(0).get_by_role("button", name="Void").click()
    await expect(entries.nth(0)).to_contain_text("Voided")
    await screenshot(page, "staff-shift.png")
    (refreshed,) = await live_api.coupons(customer)
    assert refreshed["status"] == "active"
    assert scanner.only_our_origin(server), scanner.requests


async def test_a_lost_response_is_retried_with_the_same_key_and_shows_success(
    till: Any, server: str, live_api: Api
) -> None:
    coupon, _ = await coupon_of_new_customer(live_api)
    scanner = await till(NOTHING, auto_redeem=False)
    page = scanner.page

    sent: list[dict[str, str]] = []
    answers: list[int] = []

    async def drop_first_answer(route: Route) -> None:
        sent.append(await route.request.all_headers())
        response = await route.fetch()  # the server commits the redemption...
        answers.append(response.status)
        if len(sent) == 1:
            await route.abort("connectionreset")  # ...and the answer never reaches the till
        else:
            assert response.headers.get("idempotent-replayed") == "true"
            await route.fulfill(response=response)

    await page.route("**/api/redemptions", drop_first_answer)
    await page.get_by_label("Type a code").fill(coupon["code"])
    await page.get_by_role("button", name="Check").click()
    await page.get_by_role("dialog", name="Valid coupon").get_by_role("button", name="Redeem").click()
    result = page.get_by_role("alertdialog")
    await expect(result).to_contain_text("Redeemed — 20% off")
    await expect(result).to_have_class("result ok")
    assert answers == [201, 201]
    assert sent[0]["idempotency-key"] == sent[1]["idempotency-key"]
    assert await redemption_media(live_api, coupon["id"]) == ["manual"]


async def test_a_server_fault_or_an_ended_session_keeps_the_redemption_until_it_is_answered(
    till: Any, server: str, live_api: Api
) -> None:
    coupon, _ = await coupon_of_new_customer(live_api)
    scanner = await till(NOTHING, auto_redeem=False)
    page = scanner.page

    keys: list[str] = []
    second_held = asyncio.Event()
    release_second = asyncio.Event()

    async def fault_then_expired_session(route: Route) -> None:
        keys.append((await route.request.all_headers())["idempotency-key"])
        problem_json = {"content-type": "application/problem+json"}
        if len(keys) == 1:
            problem = {"status": 503, "code": "service_unavailable"}
            await route.fulfill(status=503, json=problem, headers=problem_json)
        elif len(keys) == 2:
            second_held.set()
            await release_second.wait()
            problem = {"status": 401, "code": "not_authenticated"}
            await route.fulfill(status=401, json=problem, headers=problem_json)
        else:
            await route.continue_()

    await page.route("**/api/redemptions", fault_then_expired_session)
    await page.get_by_label("Type a code").fill(coupon["code"])
    await page.get_by_role("button", name="Check").click()
    await page.get_by_role("dialog", name="Valid coupon").get_by_role("button", name="Redeem").click()

    # Sent again after the 503; while it is on the wire there is no way on to the next customer.
    await second_held.wait()
    result = page.get_by_role("alertdialog")
    await expect(result).to_contain_text("retrying")
    await expect(page.locator("#result-next")).to_be_hidden()
    await page.keyboard.press("Escape")
    await expect(result).to_be_visible()
    release_second.set()

    # The session ended: sign in again, and the same attempt is sent once more, first.
    await expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('tessera.staff.pending')") is not None
    await page.get_by_label("Username").fill(scanner.username)
    await page.get_by_label("Password").fill(STAFF_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(result).to_contain_text("Redeemed — 20% off")
    assert len(keys) == 3
    assert len(set(keys)) == 1
    assert await page.evaluate("localStorage.getItem('tessera.staff.pending')") is None
    assert await redemption_media(live_api, coupon["id"]) == ["manual"]

    # An answered coupon is final: a second redemption is refused and nothing stays pending.
    await page.get_by_role("button", name="Next customer").click()
    await page.get_by_label("Type a code").fill(coupon["code"])
    await page.get_by_role("button", name="Check").click()
    await expect(result).to_contain_text("Already redeemed at")
    assert await page.evaluate("localStorage.getItem('tessera.staff.pending')") is None


async def test_the_bare_folder_address_opens_the_scanner_in_its_folder(
    till: Any, server: str, live_api: Api
) -> None:
    scanner = await till(NOTHING, auto_redeem=False)
    await scanner.page.goto(f"{server}/staff")
    await expect(scanner.page).to_have_url(f"{server}/staff/")
    await expect(scanner.page.locator("#who")).to_contain_text(scanner.username)


async def test_scanner_is_installable_and_caches_its_decoder(till: Any, server: str, live_api: Api) -> None:
    scanner = await till(NOTHING, auto_redeem=False)
    browser, page = scanner.browser, scanner.page
    await page.evaluate("navigator.serviceWorker.ready")
    cdp = await browser.new_cdp_session(page)
    await service_worker_registration(cdp, f"{server}/staff/")
    manifest = await cdp.send("Page.getAppManifest")
    assert manifest["errors"] == []
    assert json.loads(manifest["data"])["scope"] == "/staff/"
    assert (await cdp.send("Page.getInstallabilityErrors"))["installabilityErrors"] == []
    cached = await page.evaluate(
        """caches.keys().then((names) => Promise.all(names.map((name) =>
             caches.open(name).then((cache) => cache.keys()).then((keys) => keys.map((k) => k.url)))))
           .then((lists) => lists.flat())"""
    )
    assert f"{server}/staff/vendor/zxing_reader.wasm" in cached
    assert f"{server}/staff/" in cached
    wasm = await page.request.get(f"{server}/staff/vendor/zxing_reader.wasm")
    assert wasm.headers["content-type"] == "application/wasm"

    # Remembered on the device: a reload opens the scanner, not the sign-in.
    await page.reload()
    await expect(page.locator("#who")).to_contain_text(scanner.username)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('tessera.staff.session')") is None


async def test_a_coupon_whose_offer_is_spent_is_refused_at_the_read_and_never_offered(
    till: Any, server: str, live_api: Api
) -> None:
    _, first = await live_api.customer()
    _, second = await live_api.customer()
    created = await live_api.campaign(name="First come", limits={"max_redemptions": 1, "per_customer": None})
    await live_api.publish(created["id"])
    (taken,) = await live_api.coupons(first)
    (late,) = await live_api.coupons(second)
    redeemed = await live_api.redeem(await live_api.staff(), taken["code"], key=str(uuid.uuid4()))
    assert redeemed.status_code == 201, redeemed.text

    scanner = await till(qr_picture(late["qr_payload"]), auto_redeem=False)
    page = scanner.page
    result = page.get_by_role("alertdialog")
    await expect(result).to_contain_text("This offer has reached its limit", timeout=15_000)
    await expect(result).to_have_class("result bad")
    assert await accessibility_violations(page) == []
    await screenshot(page, "staff-limit-reached.png")
    assert await scanner.opened_dialogs() == ["result"]
    await expect(page.locator("#offer")).to_be_hidden()
    assert scanner.posts == []
    assert await redemption_media(live_api, late["id"]) == []


async def test_a_coupon_for_other_stores_is_refused_with_where_it_is_valid(
    till: Any, server: str, live_api: Api
) -> None:
    navigli = await live_api.store("Navigli")
    brera = await live_api.store("Brera")
    coupon, _ = await coupon_of_new_customer(live_api, name="Two shops", stores=[navigli, brera])

    # Even a store that redeems at once only shows why it may not.
    scanner = await till(qr_picture(coupon["qr_payload"]), auto_redeem=True)
    page = scanner.page
    result = page.get_by_role("alertdialog")
    await expect(result).to_contain_text("Not valid in this store — valid at Navigli, Brera", timeout=15_000)
    await expect(result).to_have_class("result bad")
    assert await accessibility_violations(page) == []
    assert await scanner.opened_dialogs() == ["result"]
    assert scanner.posts == []
    assert await redemption_media(live_api, coupon["id"]) == []


async def test_a_minimum_order_asks_the_total_refuses_less_and_records_it(
    till: Any, server: str, live_api: Api
) -> None:
    coupon, _ = await coupon_of_new_customer(live_api, name="Big basket", min_order_total=2000)

    # The store redeems at once, but not an offer that needs the order total.
    scanner = await till(qr_picture(coupon["qr_payload"]), auto_redeem=True)
    page = scanner.page
    sheet = page.get_by_role("dialog", name="Valid coupon")
    await expect(sheet).to_be_visible(timeout=15_000)
    await expect(sheet).to_contain_text("Minimum order €20.00")
    total = sheet.get_by_label("Order total")
    await expect(total).to_be_focused()
    await expect(total).to_have_attribute("inputmode", "decimal")
    assert await accessibility_violations(page) == []
    await screenshot(page, "staff-order-total.png")

    redeem = sheet.get_by_role("button", name="Redeem")
    await redeem.click()
    await expect(sheet).to_contain_text("Type the order total, e.g. 25.50")
    await total.fill("19,99")  # the decimal comma reads in an English page too
    await total.press("Enter")
    await expect(sheet.get_by_role("alert")).to_have_text("Below the minimum order of €20.00")
    await expect(total).to_have_attribute("aria-invalid", "true")
    await expect(total).to_be_focused()
    assert await accessibility_violations(page) == []
    assert scanner.posts == []

    await total.fill("25,50")
    await redeem.click()
    result = page.get_by_role("alertdialog")
    await expect(result).to_contain_text("Redeemed — 20% off")
    await expect(result).to_have_class("result ok")
    (post,) = scanner.posts
    assert post.post_data_json == {"code": coupon["qr_payload"], "entry": "scan", "order_total": 2550}
    assert (await post.response()).status == 201  # type: ignore[union-attr]
    (row,) = await standing_redemptions(live_api, coupon["id"])
    assert row["order_total"] == "2550"
    assert scanner.only_our_origin(server), scanner.requests


async def test_a_refused_total_is_a_red_answer_and_a_retry_sends_the_same_total(
    till: Any, server: str, live_api: Api
) -> None:
    coupon, _ = await coupon_of_new_customer(live_api, name="Big basket", min_order_total=2000)
    scanner = await till(NOTHING, auto_redeem=False)
    page = scanner.page
    await page.locator("#language").select_option("it")
    await page.get_by_label("Digita un codice").fill(coupon["code"])
    await page.get_by_role("button", name="Verifica").click()
    sheet = page.get_by_role("dialog", name="Coupon valido")
    await expect(sheet).to_contain_text("Ordine minimo 20,00 €")

    # The marketer raises the minimum while the customer is at the till: the server refuses.
    raised = await live_api.client.patch(
        f"/api/campaigns/{coupon['campaign']['id']}",
        json={"min_order_total": 3000},
        headers=await live_api.marketer(),
    )
    assert raised.status_code == 200, raised.text

    sent: list[tuple[str, Any]] = []
    answers: list[int] = []

    async def drop_first_answer(route: Route) -> None:
        request = route.request
        sent.append(((await request.all_headers())["idempotency-key"], request.post_data_json))
        response = await route.fetch()
        answers.append(response.status)
        if len(sent) == 1:
            await route.abort("connectionreset")
        else:
            await route.fulfill(response=response)

    await page.route("**/api/redemptions", drop_first_answer)
    await sheet.get_by_label("Totale dell'ordine").fill("25.50")
    await sheet.get_by_role("button", name="Riscatta").click()
    result = page.get_by_role("alertdialog")
    await expect(result).to_contain_text("Questa offerta richiede un ordine di almeno 30,00 €")
    await expect(result).to_have_class("result bad")
    assert answers == [422, 422]
    body = {"code": coupon["code"], "entry": "manual", "order_total": 2550}
    assert sent == [(sent[0][0], body), (sent[0][0], body)]
    assert await page.evaluate("localStorage.getItem('tessera.staff.pending')") is None
    assert await redemption_media(live_api, coupon["id"]) == []
