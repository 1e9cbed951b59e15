"""The customer PWA in real headless Chromium against a live server: registration with separate
consents, the coupon card whose QR code redeems at the till, offline reload, the wallet buttons,
the live countdown, installability, and Web Push through the service worker."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from PIL import Image
from playwright.async_api import BrowserContext, expect
from scripts.crash_harness import poll

from tessera.core.settings import Settings
from tests.fakes.push import FakePushService, running_fake_push
from tests.support.api import Api, bearer
from tests.support.barcodes import decode_qr
from tests.support.browser import (
    PHONE,
    accessibility_violations,
    chromium,
    screenshot,
    service_worker_registration,
)
from tests.support.customer_app import customer_token, open_app, register

pytestmark = pytest.mark.browser


@pytest.fixture
async def browser(tmp_path: Path, server: str) -> AsyncIterator[BrowserContext]:
    async with chromium(tmp_path / "profile", locale="en-GB", timezone_id="Europe/Lisbon") as context:
        await context.grant_permissions(["notifications"], origin=server)
        yield context


async def staff_redeem(api: Api, code: str) -> dict[str, Any]:
    staff = await api.staff()
    response = await api.redeem(staff, code, key="till-1-0001")
    assert response.status_code == 201, response.text
    redemption: dict[str, Any] = response.json()
    return redemption


async def test_register_hold_offline_and_redeem_the_card(
    browser: BrowserContext, server: str, live_api: Api, settings: Settings
) -> None:
    page = await open_app(browser, server)
    assert await page.evaluate("document.documentElement.lang") == "en"
    await expect(page.get_by_role("heading", name="Your coupons, on your phone")).to_be_visible()
    assert await accessibility_violations(page) == []
    await screenshot(page, "customer-register.png")

    # The form explains each choice and refuses to go on without the terms.
    await page.get_by_label("E-mail").fill("ada@example.com")
    await page.get_by_role("button", name="Register").click()
    await expect(page.get_by_role("alert")).to_have_text("Please accept the terms of use to register.")
    await register(page, "ada@example.com")
    await expect(page.get_by_text("No coupons yet.")).to_be_visible()
    headers = bearer(await customer_token(page))
    me = (await live_api.client.get("/api/me", headers=headers)).json()
    assert me["email"] == "ada@example.com"
    assert me["consent"] == {"terms": True, "marketing": True, "push": False}
    assert me["locale"] == "en"

    # The phone's time zone, for birthday coupons on the customer's own date.
    async def zone_given() -> bool:
        profile = (await live_api.client.get("/api/me", headers=headers)).json()
        return bool(profile["timezone"] == "Europe/Lisbon")

    await poll(zone_given, 10, "the phone's time zone in the profile")

    campaign = await live_api.campaign(name="Spring 20%", coupon_valid_days=7)
    assert (await live_api.publish(campaign["id"]))["issued"] == 1
    (coupon,) = await live_api.coupons(headers)
    await page.reload()
    card = page.locator(f"#coupon-{coupon['id']}")
    await expect(card.get_by_role("heading", name="Spring 20%")).to_be_visible()
    await expect(card.get_by_text("20% off", exact=True)).to_be_visible()
    await expect(card.locator(".code-value")).to_have_text(coupon["code_display"])
    await expect(card.locator("time")).to_have_text("Expires in 6 days")
    await expect(card.get_by_role("button", name="Add to Apple Wallet")).to_be_visible()
    await expect(card.get_by_role("button", name="Add to Google Wallet")).to_be_visible()
    assert await accessibility_violations(page) == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll
    await screenshot(page, "customer-coupons.png")
    await page.set_viewport_size({"width": 1280, "height": 800})
    assert await accessibility_violations(page) == []
    await screenshot(page, "customer-coupons-desktop.png")
    await page.set_viewport_size(PHONE)

    # Offline (a shop without signal): the reload still shows the card with its QR code.
    await browser.set_offline(True)
    await page.reload()
    await expect(card.locator(".code-value")).to_have_text(coupon["code_display"])
    await expect(page.get_by_text("You are offline.")).to_be_visible()
    qr = card.get_by_role("img", name=f"QR code of coupon {coupon['code_display']}")
    assert await qr.evaluate("image => image.complete && image.naturalWidth > 0")
    await screenshot(page, "customer-offline.png")
    await browser.set_offline(False)
    await expect(page.get_by_text("You are offline.")).to_be_hidden()  # back online, refreshed

    # The QR code on the screen is what the till reads: it redeems once, as medium "pwa".
    payload = decode_qr(await qr.screenshot())
    assert payload == coupon["qr_payload"]
    redemption = await staff_redeem(live_api, payload)
    assert redemption["medium"] == "pwa"
    assert redemption["coupon_id"] == coupon["id"]

    await page.reload()
    await expect(page.get_by_text("No coupons yet.")).to_be_visible()
    past = page.locator(f"#past-{coupon['id']}")
    await expect(past).to_contain_text("Spring 20%")
    await expect(past).to_contain_text("Redeemed on")
    await screenshot(page, "customer-history.png")


@pytest.fixture
def google_key(settings: Settings) -> Any:
    """The public half of the service account that signs save links, read from its JSON key."""
    account = json.loads(Path(str(settings.google.service_account_path)).read_text())
    return serialization.load_pem_private_key(account["private_key"].encode(), None).public_key()


async def test_wallet_buttons_download_the_pass_and_open_the_google_save_link(
    browser: BrowserContext, server: str, live_api: Api, google_key: Any
) -> None:
    campaign = await live_api.campaign(name="Pizza night")
    await live_api.publish(campaign["id"])
    page = await open_app(browser, server)
    await register(page, "grace@example.com")  # registering while it runs brings its coupon
    coupon_id = int((await page.locator(".card").get_attribute("data-coupon-id")) or 0)
    card = page.locator(f"#coupon-{coupon_id}")

    async with page.expect_download() as download_info:
        await card.get_by_role("button", name="Add to Apple Wallet").click()
    download = await download_info.value
    assert download.suggested_filename == f"coupon-{coupon_id}.pkpass"
    with zipfile.ZipFile(Path(await download.path())) as archive:
        pass_json = json.loads(archive.read("pass.json"))
        assert {"manifest.json", "signature", "icon.png"} <= set(archive.namelist())
    assert pass_json["serialNumber"] == str(coupon_id)
    assert pass_json["barcodes"][0]["message"].startswith("TSR1:A:")  # the medium apple_wallet

    opened: list[str] = []

    async def google(route: Any) -> None:
        opened.append(route.request.url)
        await route.fulfill(body="<!doctype html><title>Google Wallet</title>", content_type="text/html")

    await page.route("https://pay.google.com/**", google)
    await card.get_by_role("button", name="Add to Google Wallet").click()
    await page.wait_for_url("https://pay.google.com/**")
    (url,) = opened
    assert url.startswith("https://pay.google.com/gp/v/save/")
    claims = jwt.decode(url.rsplit("/", 1)[1], google_key, algorithms=["RS256"], audience="google")
    (offer,) = claims["payload"]["offerObjects"]
    assert offer["id"].endswith(f".coupon-{coupon_id}")


async def test_the_countdown_runs_and_an_expired_coupon_moves_to_the_history(
    browser: BrowserContext, server: str, live_api: Api
) -> None:
    campaign = await live_api.campaign(name="Flash sale", coupon_valid_days=1)
    await live_api.publish(campaign["id"])
    page = browser.pages[0]
    await page.clock.install()
    page = await open_app(browser, server)
    await register(page, "linus@example.com")
    (coupon,) = await live_api.coupons(bearer(await customer_token(page)))
    card = page.locator(f"#coupon-{coupon['id']}")
    await expect(card.locator("time")).to_have_text("Expires in 23 hours")

    expires_at = datetime.fromisoformat(coupon["expires_at"])
    almost = expires_at - datetime.now(UTC) - timedelta(seconds=90)
    await page.clock.fast_forward(int(almost.total_seconds() * 1000))
    await expect(card.locator("time")).to_have_text("Expires in 1 minute")
    await expect(card.locator(".expiry")).to_have_class("expiry soon")
    await page.clock.fast_forward(120_000)
    await expect(card).to_have_count(0)
    await expect(page.locator(f"#past-{coupon['id']}")).to_contain_text("Expired on")


async def test_the_app_is_installable_and_speaks_italian(browser: BrowserContext, server: str) -> None:
    page = await open_app(browser, server)
    cdp = await browser.new_cdp_session(page)
    manifest = await cdp.send("Page.getAppManifest")
    assert manifest["errors"] == []
    assert json.loads(manifest["data"])["start_url"] == "/"
    assert (await cdp.send("Page.getInstallabilityErrors"))["installabilityErrors"] == []
    for path in ("/icons/icon-192.png", "/icons/icon-512.png", "/icons/icon-maskable-512.png"):
        response = await page.request.get(server + path)
        assert response.ok
        side = int(path.rsplit("-", 1)[1].removesuffix(".png"))
        assert Image.open(io.BytesIO(await response.body())).size == (side, side)

    await page.get_by_label("Language").select_option("it")
    assert await page.evaluate("document.documentElement.lang") == "it"
    await expect(page.get_by_role("heading", name="I tuoi coupon, sul tuo telefono")).to_be_visible()
    await expect(page.get_by_label("Accetto le condizioni d'uso (obbligatorio)")).to_be_visible()
    await page.reload()  # the choice is remembered
    await expect(page.get_by_role("button", name="Registrati")).to_be_visible()


async def test_keyboard_only_registration(browser: BrowserContext, server: str) -> None:
    page = await open_app(browser, server)
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.get_by_label("E-mail").focus()
    await page.keyboard.type("kay@example.com")
    for _ in range(3):  # phone, name, terms
        await page.keyboard.press("Tab")
    await expect(page.get_by_label("I accept the terms of use")).to_be_focused()
    await page.keyboard.press("Space")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # marketing
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")  # past push, onto the button
    await expect(page.get_by_role("button", name="Register")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="My coupons")).to_be_focused()


async def test_a_phone_number_without_its_country_code_is_asked_for_again(
    browser: BrowserContext, server: str
) -> None:
    """The form takes any digits; the server (with no default region) cannot read a number
    without its country code, and the form says so at the phone field."""
    page = await open_app(browser, server)
    await page.get_by_role("textbox", name="Phone").fill("06 30 123 4567")
    await page.get_by_label("I accept the terms of use").check()
    await page.get_by_role("button", name="Register").click()
    await expect(page.locator("#form-error")).to_have_text(
        "Please write the phone number with its country code, e.g. +39 312 345 6789."
    )
    await expect(page.get_by_role("textbox", name="Phone")).to_be_focused()
    await page.get_by_role("textbox", name="Phone").fill("+36 30 123 4567")
    await page.get_by_role("button", name="Register").click()
    await expect(page.get_by_role("heading", name="My coupons")).to_be_visible()


def stub_push_manager(subscription: dict[str, Any]) -> str:
    """An init script standing in for the browser's push service (which would be Google's):
    subscribe() answers a subscription whose endpoint is the local fake push service."""
    return f"""
    (() => {{
      const json = {json.dumps(subscription)};
      let current = null;
      const decode = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")),
                                              (c) => c.charCodeAt(0)).buffer;
      const fake = {{
        endpoint: json.endpoint,
        expirationTime: null,
        options: {{ userVisibleOnly: true }},
        getKey: (name) => decode(json.keys[name]),
        toJSON: () => json,
        unsubscribe: async () => {{ current = null; return true; }},
      }};
      PushManager.prototype.subscribe = async function (options) {{
        if (!options.userVisibleOnly || !options.applicationServerKey) throw new Error("bad options");
        window.__pushKey = btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)));
        current = fake;
        return fake;
      }};
      PushManager.prototype.getSubscription = async function () {{ return current; }};
    }})();
    """


@pytest.fixture
def push_service(settings: Settings) -> Iterator[FakePushService]:
    with running_fake_push(settings.push.vapid_public_key) as fake:
        yield fake


async def test_push_new_offer_reaches_the_service_worker_and_opens_the_coupon(
    browser: BrowserContext, server: str, live_api: Api, push_service: FakePushService, settings: Settings
) -> None:
    subscriber = push_service.add("browser")
    await browser.add_init_script(stub_push_manager(subscriber.subscription(push_service.url)))
    page = await open_app(browser, server)
    await register(page, "nora@example.com", push=True)
    await expect(page.get_by_text("Notifications are on for this device.")).to_be_visible()
    vapid = base64.urlsafe_b64decode(settings.push.vapid_public_key + "==")
    assert base64.b64decode(await page.evaluate("window.__pushKey")) == vapid
    rows = await live_api.sql("SELECT endpoint FROM push_subscriptions")
    assert [row[0] for row in rows] == [subscriber.subscription(push_service.url)["endpoint"]]
    me = (await live_api.client.get("/api/me", headers=bearer(await customer_token(page)))).json()
    assert me["consent"]["push"] is True

    campaign = await live_api.campaign(name="Gelato 2x1")
    await live_api.publish(campaign["id"])
    for _ in range(200):
        if push_service.messages("browser"):
            break
        await page.wait_for_timeout(50)
    (message,) = push_service.messages("browser")  # decrypted by the fake push service
    assert message["kind"] == "new_offer"
    assert message["title"] == "New coupon: Gelato 2x1"

    # The push service hands the message to the browser: the service worker shows it, and the
    # open page picks up the new coupon without a reload.
    cdp = await browser.new_cdp_session(page)
    await page.wait_for_function("navigator.serviceWorker.controller !== null")
    registration_id = await service_worker_registration(cdp, f"{server}/")
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": server, "registrationId": registration_id, "data": json.dumps(message)},
    )
    coupon_id = message["coupon_id"]
    await expect(page.locator(f"#coupon-{coupon_id}")).to_be_visible()
    shown = await page.evaluate(
        """navigator.serviceWorker.ready.then((registration) => registration.getNotifications())
             .then((found) => found.map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data})))"""
    )
    assert shown == [
        {
            "title": message["title"],
            "body": message["body"],
            "tag": f"coupon-{coupon_id}",
            "data": {"url": f"/#coupon-{coupon_id}", "couponId": coupon_id, "kind": "new_offer"},
        }
    ]

    # Clicking the notification opens that coupon in the app.
    (worker,) = browser.service_workers
    await worker.evaluate(
        """async () => {
             const [notification] = await self.registration.getNotifications();
             self.dispatchEvent(new NotificationEvent("notificationclick", { notification }));
           }"""
    )
    await page.wait_for_url(f"{server}/#coupon-{coupon_id}")
    await expect(page.locator(f"#coupon-{coupon_id}")).to_have_class("card highlight")
    await screenshot(page, "customer-notified.png")
