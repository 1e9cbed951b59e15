"""Signing in to the customer PWA on a device that has no token, in real headless Chromium against
a live server: e-mail → the one-time code (read from a local message webhook that checks the
signature) → the coupons; then signing out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tessera.core.settings import MessageSettings, Settings
from tests.fakes.messages import FakeMessageWebhook
from tests.support.api import Api, bearer
from tests.support.browser import accessibility_violations, chromium, screenshot
from tests.support.customer_app import open_app

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings: Settings, webhook: FakeMessageWebhook) -> Settings:
    return replace(settings, messages=MessageSettings(webhook_url=webhook.url, webhook_secret=webhook.secret))


@pytest.fixture
async def browser(tmp_path: Path, server: str) -> AsyncIterator[BrowserContext]:
    async with chromium(tmp_path / "profile", locale="en-GB") as context:
        yield context


async def code_sent_to(page: Page, webhook: FakeMessageWebhook, to: str, count: int) -> str:
    for _ in range(300):
        if len(webhook.messages_to(to)) >= count:
            break
        await page.wait_for_timeout(50)
    assert len(webhook.messages_to(to)) == count
    assert webhook.refused == []
    return webhook.code_for(to)


async def test_sign_in_with_a_code_shows_the_coupons_then_sign_out(
    browser: BrowserContext, server: str, live_api: Api, webhook: FakeMessageWebhook
) -> None:
    customer_id, registered = await live_api.customer(email="mia@example.com")
    await live_api.publish((await live_api.campaign(name="Caffè 2x1"))["id"])
    (coupon,) = await live_api.coupons(registered)

    page = await open_app(browser, server)
    await page.get_by_role("button", name="Sign in with your e-mail or phone").click()
    await expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    contact = page.get_by_label("E-mail or phone number")
    await expect(contact).to_be_focused()
    assert await accessibility_violations(page) == []
    await screenshot(page, "customer-sign-in.png")

    await page.get_by_role("button", name="Send me a code").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Please give the e-mail address or phone number you registered with."
    )
    await page.keyboard.type(" Mia@Example.com ")
    await page.keyboard.press("Enter")
    code_field = page.get_by_label("Sign-in code")
    await expect(code_field).to_be_focused()
    await expect(page.get_by_text("If mia@example.com is registered with us")).to_be_visible()
    assert await code_field.get_attribute("autocomplete") == "one-time-code"
    assert await accessibility_violations(page) == []
    await screenshot(page, "customer-sign-in-code.png")
    code = await code_sent_to(page, webhook, "mia@example.com", 1)

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    await page.keyboard.type(wrong)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert")).to_have_text(
        "This code is wrong or has expired. Check it, or ask for a new one."
    )
    # A new code replaces the first; the page takes the newest.
    await page.get_by_role("button", name="Send a new code").click()
    await expect(page.get_by_text("A new code is on its way.")).to_be_visible()
    newest = await code_sent_to(page, webhook, "mia@example.com", 2)
    await code_field.fill(f"{newest[:3]} {newest[3:]}")
    await page.keyboard.press("Enter")

    await expect(page.get_by_role("heading", name="My coupons")).to_be_focused()
    card = page.locator(f"#coupon-{coupon['id']}")
    await expect(card.get_by_role("heading", name="Caffè 2x1")).to_be_visible()
    await expect(card.locator(".code-value")).to_have_text(coupon["code_display"])
    token: str = await page.evaluate("localStorage.getItem('tessera.customer.token')")
    assert token.startswith("tsc_")
    assert bearer(token) != registered
    me = (await live_api.client.get("/api/me", headers=bearer(token))).json()
    assert me["id"] == customer_id
    assert await accessibility_violations(page) == []

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Your coupons, on your phone")).to_be_visible()
    await expect(page.get_by_text("You are signed out on this device.")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('tessera.customer.token')") is None
    assert (await live_api.client.get("/api/me", headers=bearer(token))).status_code == 401
    assert (await live_api.client.get("/api/me", headers=registered)).status_code == 200  # the other device
    await page.reload()
    await expect(card).to_have_count(0)  # nothing of the customer's is left on this device


async def test_sign_in_speaks_italian_and_goes_back_to_registration(
    browser: BrowserContext, server: str, live_api: Api, webhook: FakeMessageWebhook
) -> None:
    await live_api.customer(email=None, phone="+393123456789", locale="en")
    page = await open_app(browser, server)
    await page.get_by_label("Language").select_option("it")
    await page.get_by_role("button", name="Accedi con la tua e-mail o il telefono").click()
    await expect(page.get_by_role("heading", name="Accedi", exact=True)).to_be_visible()
    await page.get_by_label("E-mail o numero di telefono").fill("+39 312 345 6789")
    await page.get_by_role("button", name="Inviami un codice").click()
    await expect(page.get_by_text("Se +393123456789 è registrato da noi")).to_be_visible()
    await code_sent_to(page, webhook, "+393123456789", 1)
    (message,) = webhook.messages_to("+393123456789")
    assert (message["channel"], message["locale"]) == ("sms", "it")  # the language of the page
    assert message["text"].startswith("Codice di accesso Tessera: ")
    await page.get_by_role("button", name="Usa un'altra e-mail o un altro telefono").click()
    await expect(page.get_by_label("E-mail o numero di telefono")).to_have_value("+393123456789")
    await page.get_by_role("button", name="Torna alla registrazione").click()
    await expect(page.get_by_role("button", name="Registrati")).to_be_visible()
    await expect(page.get_by_role("button", name="Accedi con la tua e-mail o il telefono")).to_be_focused()
