"""Contests through the HTTP API, on SQLite and PostgreSQL: printed codes, entries and their
limits, the failed-code throttle, the leaderboard, the auditable draw and instant wins."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tessera.app import create_app
from tessera.codes.formats import is_valid_random
from tessera.codes.payloads import parse
from tessera.contests.rules import draw_time
from tessera.core.settings import Settings
from tests.support.api import Api, iso, problem
from tests.support.contests import contest, enter, printed_codes, recompute_winners


@pytest.fixture
def settings(settings: Settings) -> Settings:
    throttle = replace(settings.throttle, failed_entries_per_customer=5, failed_entries_per_contest=8)
    return replace(settings, throttle=throttle)


async def test_points_codes_count_once_and_the_leaderboard_ranks_them(api: Api) -> None:
    created = await contest(api, timezone="Europe/Rome")
    assert created["status"] == "running"
    assert created["seed"] is None
    assert len(created["commitment"]) == 64
    cola = await printed_codes(api, created["id"], 6, product="Cola 1 L", points=5)
    chips = await printed_codes(api, created["id"], 4, product="Chips", points=2)
    codes = [row["code"] for row in cola + chips]
    assert len(set(codes)) == 10
    assert all(is_valid_random(code) for code in codes)
    assert all(parse(row["qr_payload"]).code == row["code"] for row in cola)
    assert {row["product"] for row in chips} == {"Chips"}
    assert {row["points"] for row in cola} == {"5"}
    # Only digests are stored: no code appears in the database.
    stored = await api.sql("SELECT code_digest FROM contest_codes")
    assert len(stored) == 10
    assert all(len(row[0]) == 16 for row in stored)

    ada_id, ada = await api.customer()
    _, bob = await api.customer()
    first = await enter(api, created["id"], ada, cola[0]["code_display"].lower())  # typed, any case
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["result"] == "counted"
    assert (answer["points"], answer["total_points"], answer["rank"], answer["participants"]) == (5, 5, 1, 1)
    assert answer["product"] == "Cola 1 L"
    # The same code again, by anyone: 409, and nothing counted twice.
    problem(await enter(api, created["id"], ada, cola[0]["code"]), 409, "code_already_entered")
    problem(await enter(api, created["id"], bob, cola[0]["qr_payload"]), 409, "code_already_entered")

    api.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]  # Ada reached 5 first
    scanned = await enter(api, created["id"], bob, cola[1]["qr_payload"])
    assert scanned.status_code == 201
    assert scanned.json()["rank"] == 2
    api.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    for row in chips[:3]:
        assert (await enter(api, created["id"], bob, row["code"])).status_code == 201
    # Bob 11, Ada 5.
    board = (await api.client.get(f"/api/contests/{created['id']}/leaderboard")).json()
    assert [(leader["rank"], leader["points"]) for leader in board["leaders"]] == [(1, 11), (2, 5)]
    assert board["participants"] == 2
    assert board["me"] is None
    mine = (await api.client.get(f"/api/contests/{created['id']}/leaderboard", headers=ada)).json()
    assert mine["me"] == {
        "rank": 2,
        "participant_id": answer["participant_id"],
        "points": 5,
        "entries": 1,
    }
    me = (await api.client.get("/api/me", headers=ada)).json()
    assert me["email"] not in str(board)
    assert str(ada_id) not in [leader["participant_id"] for leader in board["leaders"]]

    # Ada catches up at a later time: a tie goes to whoever reached the points first (Bob).
    api.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    assert (await enter(api, created["id"], ada, chips[3]["code"])).status_code == 201
    tied = await enter(api, created["id"], ada, cola[2]["code"])
    assert tied.json()["total_points"] == 12
    assert tied.json()["rank"] == 1
    events = await api.sql("SELECT count(*), sum(quantity) FROM events WHERE type = 'contest_entry'")
    assert tuple(events[0]) == (7, 7)
    entries = await api.sql("SELECT count(*), count(DISTINCT code_id) FROM contest_entries")
    assert tuple(entries[0]) == (7, 7)


async def test_unknown_and_forged_codes_answer_alike_and_are_throttled(api: Api) -> None:
    created = await contest(api)
    [row] = await printed_codes(api, created["id"], 1, product="Water", points=1)
    _, ada = await api.customer()
    _, bob = await api.customer()
    code = row["code"]
    forged = code[:-1] + ("2" if code[-1] != "2" else "3")  # the check character no longer fits
    other = (await printed_codes(api, (await contest(api, name="Another"))["id"], 1, points=1))[0]["code"]
    answers = [
        problem(await enter(api, created["id"], ada, candidate), 404, "invalid_code")
        for candidate in (forged, "not a code at all", other)  # another contest's code is unknown here
    ]
    assert len({str({k: v for k, v in a.items() if k != "instance"}) for a in answers}) == 1
    problem(await enter(api, created["id"], ada, "2" * 16), 404, "invalid_code")
    problem(await enter(api, created["id"], ada, "3" * 15 + "4"), 404, "invalid_code")
    # Five failures spend Ada's budget: a real code is refused too, with Retry-After.
    blocked = await enter(api, created["id"], ada, code)
    body = problem(blocked, 429, "too_many_attempts")
    assert int(blocked.headers["Retry-After"]) == body["retry_after"] > 0
    # Bob has a budget of his own, until the contest's budget (8) is spent as well.
    problem(await enter(api, created["id"], bob, "4" * 16), 404, "invalid_code")
    problem(await enter(api, created["id"], bob, "5" * 16), 404, "invalid_code")
    problem(await enter(api, created["id"], bob, "6" * 16), 404, "invalid_code")
    problem(await enter(api, created["id"], bob, code), 429, "too_many_attempts")
    assert (await api.sql("SELECT count(*) FROM contest_entries"))[0][0] == 0
    api.clock.advance(timedelta(seconds=int(blocked.headers["Retry-After"])))  # type: ignore[attr-defined]
    assert (await enter(api, created["id"], ada, code)).status_code == 201


async def test_limits_per_customer_and_per_local_day(api: Api) -> None:
    # 12:00 UTC is 14:00 in Rome; the Roman day ends at 22:00 UTC.
    created = await contest(api, timezone="Europe/Rome", limits={"per_customer": 4, "per_day": 2})
    rows = await printed_codes(api, created["id"], 6, product="Juice", points=3)
    _, ada = await api.customer()
    _, bob = await api.customer()
    for row in rows[:2]:
        assert (await enter(api, created["id"], ada, row["code"])).status_code == 201
    refused = problem(await enter(api, created["id"], ada, rows[2]["code"]), 422, "entry_limit_reached")
    assert (refused["limit"], refused["maximum"]) == ("day", 2)
    # A refused code was not used up: someone else can enter it.
    assert (await enter(api, created["id"], bob, rows[2]["code"])).status_code == 201
    api.clock.advance(timedelta(hours=9, minutes=59))  # type: ignore[attr-defined]
    problem(await enter(api, created["id"], ada, rows[3]["code"]), 422, "entry_limit_reached")
    api.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]  # midnight in Rome
    for row in rows[3:5]:
        assert (await enter(api, created["id"], ada, row["code"])).status_code == 201
    api.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    total = problem(await enter(api, created["id"], ada, rows[5]["code"]), 422, "entry_limit_reached")
    assert (total["limit"], total["maximum"]) == ("contest", 4)
    counters = await api.sql("SELECT entries, points FROM contest_participants ORDER BY entries DESC")
    assert [tuple(row) for row in counters] == [(4, 12), (1, 3)]


async def test_who_may_enter_and_when(api: Api) -> None:
    created = await contest(api)
    rows = await printed_codes(api, created["id"], 3, points=1)
    _, no_offers = await api.customer(marketing=False)
    problem(await enter(api, created["id"], no_offers, rows[0]["code"]), 422, "marketing_consent_required")
    _, ada = await api.customer()
    problem(await enter(api, 999_999, ada, rows[0]["code"]), 404, "contest_not_found")
    later = await contest(api, starts_at=iso(api.clock.now() + timedelta(days=1)))
    early = await printed_codes(api, later["id"], 1, points=1)
    closed = problem(await enter(api, later["id"], ada, early[0]["code"]), 422, "contest_not_open")
    assert closed["contest_status"] == "scheduled"
    close = await api.client.post(f"/api/contests/{created['id']}/close", headers=await api.marketer())
    assert close.status_code == 200
    assert close.json()["status"] == "closed"
    problem(await enter(api, created["id"], ada, rows[1]["code"]), 422, "contest_not_open")
    # An entry replayed with its Idempotency-Key answers the first answer.
    open_ = await contest(api, name="Open")
    [fresh] = await printed_codes(api, open_["id"], 1, points=7)
    key = {"Idempotency-Key": "entry-1"}
    first = await enter(api, open_["id"], ada, fresh["code"], **key)
    again = await enter(api, open_["id"], ada, fresh["code"], **key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_the_draw_is_committed_revealed_and_reproducible(api: Api) -> None:
    marketer = await api.marketer()
    prize_campaign = await api.campaign(name="Winner's voucher", limits={"per_customer": None})
    created = await contest(
        api,
        ends_at=iso(api.clock.now() + timedelta(days=1)),
        prizes=[
            {"name": "Scooter", "count": 1, "value": 50_000, "campaign_id": prize_campaign["id"]},
            {"name": "Headphones", "count": 2, "value": 8_000},
        ],
        consolation=[{"name": "T-shirt", "count": 3, "value": 1_500}],
    )
    commitment = created["commitment"]
    rows = await printed_codes(api, created["id"], 40, product="Cola", points=1)
    push = {"terms": True, "marketing": True, "push": True}
    customers = [await api.customer(consent=push) for _ in range(12)]
    codes = iter(row["code"] for row in rows)
    for number, (_, headers) in enumerate(customers):
        for _ in range(1 + number % 4):  # ties: several customers with the same points
            assert (await enter(api, created["id"], headers, next(codes))).status_code == 201
        if number % 3 == 0:
            api.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    for customer_id, headers in customers:
        subscription = {
            "endpoint": f"https://push.example.com/{customer_id}",
            "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
        }
        assert (
            await api.client.post("/api/me/push-subscriptions", json=subscription, headers=headers)
        ).status_code == 201

    problem(await api.client.get(f"/api/contests/{created['id']}/draw"), 404, "draw_not_found")
    draw_url = f"/api/contests/{created['id']}/draw"
    problem(await api.client.post(draw_url, headers=marketer), 422, "contest_still_open")
    api.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]  # the contest has ended
    drawn = await api.client.post(draw_url, headers=marketer)
    assert drawn.status_code == 200, drawn.text
    record = drawn.json()
    assert record["commitment"] == commitment == hashlib.sha256(bytes.fromhex(record["seed"])).hexdigest()
    assert len(record["participants"]) == 12
    published = [(w["id"], w["tier"], w["place"], w["prize"]) for w in record["winners"]]
    assert published == recompute_winners(record)
    assert [w[1] for w in published] == ["top"] * 3 + ["consolation"] * 3

    # Once only: again, and publicly, the same record; no more entries.
    assert (await api.client.post(draw_url, headers=marketer)).json() == record
    assert (await api.client.get(draw_url)).json() == record
    shown = (await api.client.get(f"/api/contests/{created['id']}")).json()
    assert shown["status"] == "drawn"
    assert shown["seed"] == record["seed"]
    assert shown["draw_url"] == draw_url
    problem(await enter(api, created["id"], customers[0][1], next(codes)), 422, "contest_not_open")

    # The first place got a coupon of the prize campaign; the recorded prizes a push each.
    board = (await api.client.get(f"/api/contests/{created['id']}/leaderboard")).json()
    first_place = board["leaders"][0]["participant_id"]
    assert first_place == published[0][0]
    alias_of = {}
    for customer_id, headers in customers:
        me = (await api.client.get(f"/api/contests/{created['id']}/leaderboard", headers=headers)).json()[
            "me"
        ]
        alias_of[me["participant_id"]] = (customer_id, headers)
    winner_id, winner = alias_of[first_place]
    [voucher] = await api.coupons(winner)
    assert voucher["campaign"]["id"] == prize_campaign["id"]
    assert voucher["status"] == "active"
    recorded = {alias_of[w[0]][0] for w in published[1:]}
    outbox = await api.sql("SELECT topic, target FROM outbox WHERE topic = 'push_contest_prize'")
    subscribers = await api.sql("SELECT id, customer_id FROM push_subscriptions")
    owner = {str(row[0]): row[1] for row in subscribers}
    assert sorted(owner[row[1]] for row in outbox) == sorted(recorded)
    prizes = await api.sql("SELECT count(*) FROM events WHERE type = 'contest_prize'")
    assert prizes[0][0] == 6
    assert (await api.sql("SELECT count(*) FROM contest_winners WHERE coupon_id IS NOT NULL"))[0][0] == 1
    assert winner_id in {
        row[0]
        for row in await api.sql(
            "SELECT customer_id FROM coupons WHERE campaign_id = :c", c=prize_campaign["id"]
        )
    }


async def test_instant_win_caps_and_the_keyed_choice_of_winners(api: Api) -> None:
    coffee = await api.campaign(name="Free coffee", limits={"per_customer": None})
    created = await contest(
        api,
        kind="instant_win",
        pool_size=60,
        prizes=[
            {"name": "Coffee", "count": 12, "value": 300, "campaign_id": coffee["id"]},
            {"name": "Lunch", "count": 4, "value": 1_500},
        ],
        max_winners=10,
        budget=6_000,
    )
    assert created["leaderboard_url"] is None
    rows = await printed_codes(api, created["id"], 60)
    assert {row["points"] for row in rows} == {""}
    problem(
        await api.client.post(
            f"/api/contests/{created['id']}/codes", json={"count": 1}, headers=await api.marketer()
        ),
        422,
        "code_pool_exhausted",
    )
    customers = [await api.customer() for _ in range(6)]
    results: list[dict[str, Any]] = []
    for number, row in enumerate(rows):
        response = await enter(api, created["id"], customers[number % 6][1], row["code"])
        assert response.status_code == 201, response.text
        results.append(response.json())
    wins = [result for result in results if result["result"] == "win"]
    assert {result["result"] for result in results} == {"win", "lose"}
    spent = sum(result["prize"]["value"] for result in wins)
    assert len(wins) <= 10
    assert spent <= 6_000
    # 16 codes of the pool carry a prize; the caps stopped the rest.
    assert len(wins) == 10 or spent + 300 > 6_000
    report = (
        await api.client.get(f"/api/contests/{created['id']}/report", headers=await api.marketer())
    ).json()
    assert (report["wins"], report["spent"], report["entries"]) == (len(wins), spent, 60)
    assert sum(prize["won"] for prize in report["prizes"]) == len(wins)
    coupons = [result["prize"]["coupon_id"] for result in wins if result["prize"]["name"] == "Coffee"]
    assert all(coupons)
    assert len(coupons) == len(set(coupons))
    issued = await api.sql("SELECT count(*) FROM coupons WHERE campaign_id = :c", c=coffee["id"])
    assert issued[0][0] == len(coupons)
    problem(await api.client.get(f"/api/contests/{created['id']}/leaderboard"), 422, "not_a_points_contest")
    problem(
        await api.client.post(f"/api/contests/{created['id']}/draw", headers=await api.marketer()),
        422,
        "not_a_points_contest",
    )


async def test_instant_win_answers_follow_the_keyed_selection(api: Api) -> None:
    """Exactly ``count`` serials of the pool carry each prize, and the answers agree with them."""
    created = await contest(
        api,
        kind="instant_win",
        pool_size=30,
        prizes=[{"name": "Pen", "count": 7}, {"name": "Cap", "count": 3}],
    )
    rows = await printed_codes(api, created["id"], 30)
    services = api.client.app.state.services  # type: ignore[attr-defined]
    ranks = [services.contests.keys.instant_rank(created["id"], int(row["serial"]), 30) for row in rows]
    assert sorted(ranks) == list(range(30))
    _, ada = await api.customer()
    for row, rank in zip(rows, ranks, strict=True):
        answer = (await enter(api, created["id"], ada, row["code"])).json()
        expected = "Pen" if rank < 7 else "Cap" if rank < 10 else None
        assert (answer["prize"] or {}).get("name") == expected, (row["serial"], rank)


async def test_contest_validation(api: Api) -> None:
    marketer = await api.marketer()
    now = api.clock.now()
    window = {"starts_at": iso(now), "ends_at": iso(now + timedelta(days=1))}

    async def create(**body: Any) -> Any:
        return await api.client.post("/api/contests", json={"name": "X", **window, **body}, headers=marketer)

    problem(await create(kind="instant_win", prizes=[{"name": "A"}]), 422, "invalid_value")
    problem(
        await create(kind="instant_win", pool_size=2, prizes=[{"name": "A", "count": 3}]),
        422,
        "invalid_value",
    )
    problem(await create(kind="points", pool_size=10), 422, "invalid_value")
    problem(await create(kind="points", timezone="Mars/Olympus"), 422, "invalid_value")
    problem(
        await create(kind="points", prizes=[{"name": "A", "campaign_id": 999}]),
        422,
        "prize_campaign_not_found",
    )
    problem(
        await api.client.post(
            "/api/contests",
            json={
                "kind": "points",
                "name": "Past",
                "starts_at": iso(now - timedelta(days=2)),
                "ends_at": iso(now - timedelta(days=1)),
            },
            headers=marketer,
        ),
        422,
        "contest_not_open",
    )
    points = await contest(api)
    problem(
        await api.client.post(f"/api/contests/{points['id']}/codes", json={"count": 5}, headers=marketer),
        422,
        "invalid_value",
    )
    listed = (await api.client.get("/api/contests?status=running")).json()
    assert [item["id"] for item in listed["items"]] == [points["id"]]


async def test_an_interrupted_batch_is_resumed_exactly(api: Api) -> None:
    created = await contest(api)
    rows = await printed_codes(api, created["id"], 12_000, product="Beer", points=2)
    # As if the process had stopped after the first chunk: the next one to start takes it up.
    await api.sql("DELETE FROM contest_codes WHERE serial >= 5000")
    await api.sql("UPDATE contest_code_batches SET generated = 5000, finished_at = NULL")
    marketer = await api.marketer()
    async with AsyncTestClient(app=create_app(api.settings, api.clock)) as restarted:
        url = f"/api/contests/{created['id']}/codes"
        for _ in range(400):
            batch = (await restarted.get(f"{url}/batches/1", headers=marketer)).json()
            if batch["status"] == "done":
                break
            await asyncio.sleep(0.05)
        assert batch["generated"] == 12_000
        export = await restarted.get(f"{url}?format=csv", headers=marketer)
    assert list(csv.DictReader(io.StringIO(export.text))) == rows
    counted = await api.sql("SELECT count(*), count(DISTINCT serial) FROM contest_codes")
    assert tuple(counted[0]) == (12_000, 12_000)


def test_draw_time_is_fixed_width() -> None:
    assert draw_time(datetime(2026, 6, 1, 12, 0, tzinfo=UTC)) == "2026-06-01T12:00:00.000000Z"
