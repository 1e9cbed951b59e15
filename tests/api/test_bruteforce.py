"""Guessing codes: random well-formed codes against a campaign full of live ones never redeem,
and the throttle cuts a guessing till off after its budget. The full-size run (10,000 guesses
against 1,000,000 live codes, and the timing of unknown against expired answers) is
``scripts/bench_bruteforce.py``."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from datetime import timedelta

from tessera.codes.formats import random_code_from_bytes
from tests.support.api import Api, problem

LIVE_CODES = 20_000
GUESSES = 10_000


async def _live_codes(api: Api, count: int) -> int:
    campaign = await api.campaign(limits={"per_customer": None})
    marketer = await api.marketer()
    response = await api.client.post(
        f"/api/campaigns/{campaign['id']}/codes", json={"count": count, "channel": "print"}, headers=marketer
    )
    assert response.status_code == 202, response.text
    for _ in range(400):
        batch = (await api.client.get(response.json()["progress_url"], headers=marketer)).json()
        if batch["status"] == "done":
            return int(campaign["id"])
        await asyncio.sleep(0.05)
    raise AssertionError("the code batch did not finish")


async def test_random_well_formed_codes_never_redeem_and_are_throttled(api: Api) -> None:
    await _live_codes(api, LIVE_CODES)
    budget = api.settings.throttle.failed_scans_per_window
    tills = [await api.staff(await api.store()) for _ in range(3)]
    statuses: Counter[int] = Counter()
    for attempt in range(GUESSES):
        till = tills[attempt % len(tills)]
        guess = random_code_from_bytes(secrets.token_bytes(15))  # a valid check character
        answer = await api.redeem(till, guess)
        statuses[answer.status_code] += 1
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) > 0
            assert answer.json()["code"] == "too_many_attempts"
        else:
            problem(answer, 404, "invalid_code")
    assert statuses[201] == 0
    # Each till is cut off after its own budget; everything after that is refused unread.
    assert statuses[404] == budget * len(tills)
    assert statuses[429] == GUESSES - budget * len(tills)
    assert await api.sql("SELECT count(*) FROM redemptions") == [(0,)]

    # The window passes: the tills work again.
    api.clock.advance(timedelta(seconds=api.settings.throttle.window_seconds))
    problem(await api.redeem(tills[0], random_code_from_bytes(secrets.token_bytes(15))), 404, "invalid_code")


async def test_unknown_and_forged_codes_get_the_same_answer(api: Api) -> None:
    """A 404 body says nothing about the code it was given."""
    staff = await api.staff()
    unknown = random_code_from_bytes(secrets.token_bytes(15))
    forged = unknown[:-1] + ("A" if unknown[-1] != "A" else "B")  # a wrong check character
    bodies = [problem(await api.redeem(staff, code), 404, "invalid_code") for code in (unknown, forged)]
    for body in bodies:
        body.pop("instance", None)
    assert bodies[0] == bodies[1]
    assert unknown not in str(bodies[0])
