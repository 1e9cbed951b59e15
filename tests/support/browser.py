"""Real headless Chromium (Debian's ``/usr/bin/chromium``, driven by Python playwright, which never
downloads a browser here) against a live Tessera server, for the PWA tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import BrowserContext, CDPSession, Page, async_playwright

from tessera.app import create_app
from tessera.core.settings import Settings
from tests.support.asgi import free_port, hypercorn_config, serving_in_thread
from tests.support.ci import IN_CI

CHROMIUM = Path(os.environ.get("TESSERA_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
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
async def chromium(
    profile: Path, *, camera: Path | None = None, **options: Any
) -> AsyncIterator[BrowserContext]:
    """A persistent profile (Chromium reports installability only for those) at phone size;
    ``camera`` is a Y4M file the fake camera shows, over and over."""
    require_chromium()
    args = list(CHROMIUM_ARGS)
    if camera is not None:
        args += [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}",
        ]
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=args,
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


async def service_worker_registration(cdp: CDPSession, scope_url: str) -> str:
    """The id DevTools gives the registration of ``scope_url``. DevTools reports registrations
    by events after ``ServiceWorker.enable`` has answered, later still on a loaded machine, so
    this waits for the one asked for."""
    seen: dict[str, str] = {}
    found = asyncio.Event()

    def updated(event: dict[str, Any]) -> None:
        for registration in event["registrations"]:
            if not registration["isDeleted"]:
                seen[registration["scopeURL"]] = registration["registrationId"]
        if scope_url in seen:
            found.set()

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    await cdp.send("ServiceWorker.enable")
    try:
        async with asyncio.timeout(15):
            await found.wait()
    except TimeoutError:
        raise AssertionError(f"no service worker registration for {scope_url}; seen: {seen}") from None
    return seen[scope_url]


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


def camera_frame(picture: Image.Image, path: Path) -> Path:
    """A one-frame Y4M video (640x480, grey) of ``picture`` centred on white, for the fake camera.
    The picture is enlarged by a whole factor so its modules stay sharp."""
    frame = Image.new("L", (640, 480), 255)
    picture = picture.convert("L")
    factor = max(1, min(400 // picture.width, 400 // picture.height))
    picture = picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST)
    frame.paste(picture, ((640 - picture.width) // 2, (480 - picture.height) // 2))
    header = b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\nFRAME\n"
    path.write_bytes(header + frame.tobytes() + bytes([128]) * (320 * 240 * 2))
    return path


def request_log(context: BrowserContext) -> list[str]:
    """Every URL the pages and service workers of ``context`` request from now on."""
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    return urls


def file_text(path: str | Path) -> str:
    """The text of a file the browser downloaded (a small one: read without an executor)."""
    return Path(path).read_text()
