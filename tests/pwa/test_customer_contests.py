"""The contest form of the customer PWA in headless Chromium against a live server: a printed
code entered by hand and by its QR payload, the answer (points and place, or win / lose), the
refusals, the leaderboard, Italian, and axe-core's WCAG 2.1 AA rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tessera.codes.keys import CodeKeys
from tessera.contests.keys import ContestKeys
from tessera.core.settings import Settings
from tests.support.api import Api, bearer
from tests.support.browser import accessibility_violations, chromium, screenshot
from tests.support.contests import contest, printed_codes
from tests.support.customer_app import customer_token, open_app, register

pytestmark = pytest.mark.browser


@pytest.fixture
async def browser(tmp_path: Path, server: str) -> AsyncIterator[BrowserContext]:
    async with chromium(tmp_path / "profile", locale="en-GB") as context:
        yield context


async def enter_code(page: Page, contest_name: str, code: str) -> None:
    await page.get_by_label("Contest", exact=True).select_option(label=contest_name)
    await page.get_by_label("Code under the cap or on the label").fill(code)
    await page.get_by_role("button", name="Enter the code").click()


async def test_enter_printed_codes_and_see_the_answer(
    browser: BrowserContext, server: str, live_api: Api, settings: Settings
) -> None:
    caps = await contest(live_api, name="Summer caps", limits={"per_day": 3})
    rows = await printed_codes(live_api, caps["id"], 4, product="Cola 1 L", points=5)
    instant = await contest(
        live_api, name="Scratch and win", kind="instant_win", pool_size=2, prizes=[{"name": "Free coffee"}]
    )
    pool = await printed_codes(live_api, instant["id"], 2)
    keys = ContestKeys(CodeKeys(settings.security.code_secret))
    winning, losing = sorted(pool, key=lambda row: keys.instant_rank(instant["id"], int(row["serial"]), 2))

    page = await open_app(browser, server)
    await register(page, "ida@example.com")
    section = page.locator("#contests")
    await expect(section.get_by_role("heading", name="Contests")).to_be_visible()
    answer = page.locator("#contest-answer")

    # Typed as people type it (lower case, with dashes): counted, with the place.
    await enter_code(page, "Summer caps", rows[0]["code_display"].lower())
    await expect(answer).to_have_text("+5 points (Cola 1 L). You have 5 points and are number 1 of 1.")
    await expect(page.get_by_label("Code under the cap or on the label")).to_have_value("")
    board = page.locator("#leaders")
    await expect(board.locator("li")).to_have_count(1)
    me = (
        await live_api.client.get(
            f"/api/contests/{caps['id']}/leaderboard", headers=bearer(await customer_token(page))
        )
    ).json()["me"]
    await expect(board.locator("li.mine")).to_have_text(f"1. {me['participant_id']}: 5 points (you)")
    assert await accessibility_violations(page) == []
    await screenshot(page, "customer-contest.png")

    # The QR payload from the label works the same; the same code twice, and a forged one, do not.
    await enter_code(page, "Summer caps", rows[1]["qr_payload"])
    await expect(answer).to_have_text("+5 points (Cola 1 L). You have 10 points and are number 1 of 1.")
    await enter_code(page, "Summer caps", rows[1]["code"])
    await expect(answer).to_have_text("This code has already been entered.")
    await expect(answer).to_have_class("answer error")
    await enter_code(page, "Summer caps", rows[2]["code"][:-1] + ("2" if rows[2]["code"][-1] != "2" else "3"))
    await expect(answer).to_have_text("This code is not valid. Check it and try again.")
    await enter_code(page, "Summer caps", rows[2]["code"])
    await expect(answer).to_contain_text("You have 15 points")
    await enter_code(page, "Summer caps", rows[3]["code"])
    await expect(answer).to_have_text("You have entered as many codes as allowed today. Try again tomorrow.")
    assert await accessibility_violations(page) == []

    # Instant win: the answer comes at once.
    await enter_code(page, "Scratch and win", winning["code"])
    await expect(answer).to_have_text("You won: Free coffee!")
    await expect(page.locator("#contest-board")).to_be_hidden()
    await enter_code(page, "Scratch and win", losing["code"])
    await expect(answer).to_have_text("Not a winner this time. Thank you for taking part.")
    await page.set_viewport_size({"width": 1280, "height": 800})
    assert await accessibility_violations(page) == []

    # In Italian.
    await page.get_by_label("Language").select_option("it")
    await expect(answer).to_have_text("Questa volta non hai vinto. Grazie per aver partecipato.")
    await expect(section.get_by_role("heading", name="Concorsi")).to_be_visible()
    await page.get_by_label("Concorso", exact=True).select_option(label="Summer caps")
    await page.get_by_label("Codice sotto il tappo o sull'etichetta").fill(rows[0]["code"])
    await page.get_by_role("button", name="Inserisci il codice").click()
    await expect(answer).to_have_text("Questo codice è già stato inserito.")
    await expect(page.locator("#leaders li.mine")).to_have_text(f"1. {me['participant_id']}: 15 punti (tu)")
    assert await accessibility_violations(page) == []
