"""The customer app's side of the browser tests: opening it with its service worker ready,
registering through its form, and the token it keeps."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Page, expect

from tests.support.api import Headers, bearer


async def open_app(context: BrowserContext, server: str) -> Page:
    """The customer app in the context's first tab, once its service worker is ready."""
    page = context.pages[0] if context.pages else await context.new_page()
    await page.goto(server)
    await page.evaluate("navigator.serviceWorker.ready")
    return page


async def customer_token(page: Page) -> str:
    token: str = await page.evaluate("localStorage.getItem('tessera.customer.token')")
    assert token
    return token


async def register(
    page: Page, email: str, *, name: str | None = None, marketing: bool = True, push: bool = False
) -> Headers:
    """Fill in the registration form (terms always accepted) and send it; the new customer's
    credentials, once the app shows their coupons."""
    await page.get_by_label("E-mail").fill(email)
    if name is not None:
        await page.get_by_label("Name (optional)").fill(name)
    await page.get_by_label("I accept the terms of use").check()
    if marketing:
        await page.get_by_label("Send me personal offers").check()
    if push:
        await page.get_by_label("Notify me on this device").check()
    await page.get_by_role("button", name="Register").click()
    await expect(page.get_by_role("heading", name="My coupons")).to_be_visible()
    return bearer(await customer_token(page))
