"""Real headless Chromium (Debian's ``/usr/bin/chromium``, driven by Python playwright, which never
downloads a browser here) against a live Tessera server, for the PWA tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, CDPSession, Page, async_playwright

from tessera.app import create_app
from tessera.settings import Settings
from tests.asgi import free_port, hypercorn_config, serving_in_thread
from tests.conftest import IN_CI

CHROMIUM = Path(os.environ.get("TESSERA_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[1]
# The README points here; CI keeps the folder as the run's artifacts.
SCREENSHOTS = Path(os.environ.get("TESSERA_SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
PHONE = {"width": 360, "height": 780}


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if IN_CI:
        pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is missing")


@contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    """The whole app (real clock, embedded worker) over HTTP on a port of its own."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(replace(settings, public_url=url))
    with serving_in_thread(app, hypercorn_config(port), port):
        yield url


@asynccontextmanager
async def chromium(profile: Path, **options: Any) -> AsyncIterator[BrowserContext]:
    """A persistent profile (Chromium reports installability only for those) at phone size."""
    require_chromium()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=PHONE,
            **options,
        )
        try:
            yield context
        finally:
            await context.close()


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name


async def screenshot(page: Page, name: str) -> Path:
    path = screenshot_path(name)
    await page.screenshot(path=str(path), full_page=True)
    return path


async def service_worker_registrations(cdp: CDPSession) -> dict[str, str]:
    """Scope URL → registration id of the page's origin, as DevTools sees them."""
    registrations: dict[str, str] = {}

    def updated(event: dict[str, Any]) -> None:
        for registration in event["registrations"]:
            if not registration["isDeleted"]:
                registrations[registration["scopeURL"]] = registration["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    await cdp.send("ServiceWorker.enable")
    return registrations


AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA findings on the page as it is now (``[]`` when clean)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through DevTools, so the page's CSP (no inline scripts) does not apply.
        await page.evaluate(AXE.read_text())
    result: dict[str, Any] = await page.evaluate(
        "(tags) => axe.run(document, { runOnly: { type: 'tag', values: tags } })", WCAG_AA
    )
    return [
        {"id": item["id"], "help": item["help"], "nodes": [node["target"] for node in item["nodes"]]}
        for item in result["violations"]
    ]
