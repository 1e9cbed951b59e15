"""The two-way SMS channel through HTTP: signed inbound messages from the gateway, replies
through the outbox to a local message webhook that checks every signature, on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from dataclasses import replace
from datetime import timedelta

import pytest

from tessera.core.settings import MessageSettings, Settings, SmsSettings, WorkerSettings
from tests.fakes.messages import FakeMessageWebhook
from tests.support.api import Api, iso, problem
from tests.support.contests import contest, enter, printed_codes
from tests.support.sms import INBOUND_SECRET, inbound, replies, send_sms, signature, text_in

ANNA = "+36301234567"
BELA = "+36301112222"
STRANGER = "+36309999999"
VOUCHERS_PER_NUMBER = 3


@pytest.fixture
def settings(settings: Settings, webhook: FakeMessageWebhook) -> Settings:
    return replace(
        settings,
        messages=MessageSettings(webhook_url=webhook.url, webhook_secret=webhook.secret),
        sms=SmsSettings(inbound_secret=INBOUND_SECRET, vouchers_per_number=VOUCHERS_PER_NUMBER),
        worker=WorkerSettings(
            embedded=True, poll_seconds=0.02, jobs_every_seconds=0.05, max_attempts=3, retry_base_seconds=10
        ),
    )


async def inbound_rows(api: Api) -> list[tuple[str, str]]:
    rows = await api.sql("SELECT gateway_id, reply FROM sms_inbound ORDER BY id")
    return [(row[0], row[1]) for row in rows]


async def test_unsigned_and_badly_signed_messages_are_refused_and_change_nothing(api: Api) -> None:
    await api.customer(email=None, phone=ANNA)
    body = inbound(ANNA, "STOP")
    problem(await send_sms(api.client, body, signed_with=None), 401, "invalid_signature")
    problem(
        await send_sms(api.client, body, signed_with="another-secret-" + "z" * 30), 401, "invalid_signature"
    )
    tampered = await api.client.post(
        "/api/sms/inbound",
        content=body.replace(b"STOP", b"HELP"),
        headers={"content-type": "application/json", "X-Tessera-Signature": signature(body)},
    )
    problem(tampered, 401, "invalid_signature")
    # Even a body that is not JSON at all is refused for its signature first.
    problem(await send_sms(api.client, b"not json", signed_with=None), 401, "invalid_signature")
    assert await inbound_rows(api) == []
    assert await api.sql("SELECT count(*) FROM outbox") == [(0,)]
    assert await api.sql("SELECT marketing_consent FROM customers") == [(True,)]


async def test_stop_withdraws_marketing_consent_with_source_sms_and_confirms(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    anna_id, _ = await api.customer(email=None, phone=ANNA, locale="it-IT")
    answer = await text_in(api.client, "+36 30 123 4567", "Stop")
    assert answer.json()["duplicate"] is False
    (reply,) = await replies(webhook, ANNA, 1)
    assert reply["channel"] == "sms"
    assert reply["kind"] == "sms_stop"
    assert reply["locale"] == "it"
    assert reply["text"].startswith("Non riceverai più offerte")
    assert await api.sql("SELECT marketing_consent FROM customers WHERE id = :id", id=anna_id) == [(False,)]
    consents = await api.sql(
        "SELECT granted, source FROM consents WHERE customer_id = :id AND purpose = 'marketing' ORDER BY id",
        id=anna_id,
    )
    assert consents == [(True, "registration"), (False, "sms")]
    # The Hungarian word, accents and all, a second time: confirmed again, recorded once.
    await text_in(api.client, ANNA, "Leiratkozás")
    await replies(webhook, ANNA, 2)
    assert len(await api.sql("SELECT id FROM consents WHERE source = 'sms'")) == 1
    assert webhook.refused == []


async def test_help_and_unknown_texts_get_the_help_reply(api: Api, webhook: FakeMessageWebhook) -> None:
    await api.customer(email=None, phone=ANNA, locale="de")
    await text_in(api.client, ANNA, "hilfe")
    await text_in(api.client, ANNA, "what is this then")
    first, second = await replies(webhook, ANNA, 2)
    assert first["kind"] == second["kind"] == "sms_help"
    assert first["text"] == second["text"]
    assert first["text"].startswith("Senden Sie ein Stichwort")
    assert api.settings.public_url in first["text"]
    assert [reply for _, reply in await inbound_rows(api)] == ["help", "help"]


async def test_a_repeated_id_is_acknowledged_and_ignored(api: Api, webhook: FakeMessageWebhook) -> None:
    anna_id, _ = await api.customer(email=None, phone=ANNA)
    body = inbound(ANNA, "STOP", gateway_id="gw-repeat-1")
    first = await send_sms(api.client, body)
    again = await send_sms(api.client, body)
    other_text = await send_sms(api.client, inbound(ANNA, "HELP", gateway_id="gw-repeat-1"))
    assert first.status_code == again.status_code == other_text.status_code == 200
    assert first.json() == {"id": "gw-repeat-1", "duplicate": False}
    assert again.json() == other_text.json() == {"id": "gw-repeat-1", "duplicate": True}
    await replies(webhook, ANNA, 1)
    assert await inbound_rows(api) == [("gw-repeat-1", "stop")]
    assert await api.sql("SELECT count(*) FROM outbox WHERE topic = 'sms_reply'") == [(1,)]
    assert len(await api.sql("SELECT id FROM consents WHERE customer_id = :id", id=anna_id)) == 4


async def test_an_unregistered_number_gets_the_registration_reply_and_nothing_else(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    campaign = await api.campaign(name="Coffee")
    await api.sql("UPDATE campaigns SET sms_keyword = 'COFFEE' WHERE id = :id", id=campaign["id"])
    await text_in(api.client, STRANGER, "COFFEE")
    (reply,) = await replies(webhook, STRANGER, 1)
    assert reply["kind"] == "sms_register"
    assert (
        reply["text"]
        == f"This number is not registered. Register to receive coupons: {api.settings.public_url}/"
    )
    assert await api.sql("SELECT count(*) FROM coupons") == [(0,)]
    assert await api.sql("SELECT count(*) FROM customers") == [(0,)]
    assert await api.sql("SELECT count(*) FROM outbox") == [(1,)]
    assert await inbound_rows(api) == [(await _last_id(api), "register")]


async def _last_id(api: Api) -> str:
    (row,) = await api.sql("SELECT gateway_id FROM sms_inbound")
    return str(row[0])


async def test_a_sender_that_is_not_a_phone_number_is_refused(api: Api) -> None:
    problem(await send_sms(api.client, inbound("TESSERA", "HELP")), 422, "invalid_value")
    assert await inbound_rows(api) == []


def code_in(reply: dict[str, object]) -> str:
    match = re.search(r"\b([A-Z0-9]{4}(?:-[A-Z0-9]{1,4}){2,})\b", str(reply["text"]))
    assert match is not None, reply
    return match.group(1)


async def test_a_keyword_gets_the_campaigns_coupon_whose_code_redeems_once(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    staff = await api.staff(await api.store())
    _, anna = await api.customer(email=None, phone=ANNA)
    campaign = await api.campaign(name="Coffee", sms_keyword="Coffee")
    assert campaign["sms_keyword"] == "COFFEE"
    await text_in(api.client, ANNA, " coffee ")
    (reply,) = await replies(webhook, ANNA, 1)
    assert reply["kind"] == "sms_coupon"
    (coupon,) = await api.coupons(anna)
    assert coupon["campaign"]["id"] == campaign["id"]
    assert coupon["channel"] == "sms"
    code = code_in(reply)
    assert code == coupon["code_display"]
    assert "/wallet/links/" in reply["text"]
    assert reply["text"].startswith("Coffee: your code is ")
    first = await api.redeem(staff, code)
    assert first.status_code == 201, first.text
    problem(await api.redeem(staff, code), 409, "already_redeemed")
    # Asking again sends the same coupon, never a second one.
    await text_in(api.client, ANNA, "COFFEE")
    _, again = await replies(webhook, ANNA, 2)
    assert again["kind"] == "sms_coupon_held"
    assert code_in(again) == code
    assert len(await api.coupons(anna)) == 1


async def test_keywords_are_unique_case_insensitively_and_never_a_command(api: Api) -> None:
    marketer = await api.marketer()
    first = await api.campaign(name="Coffee", sms_keyword="coffee")
    taken = await api.client.post(
        "/api/campaigns", json={**_body(api), "sms_keyword": "COFFEE"}, headers=marketer
    )
    assert problem(taken, 409, "sms_keyword_taken")["campaign_id"] == first["id"]
    problem(
        await api.client.post("/api/campaigns", json={**_body(api), "sms_keyword": "Stop"}, headers=marketer),
        422,
        "invalid_value",
    )
    other = await api.campaign(name="Tea")
    url = f"/api/campaigns/{other['id']}"
    problem(
        await api.client.patch(url, json={"sms_keyword": "Coffee"}, headers=marketer),
        409,
        "sms_keyword_taken",
    )
    moved = await api.client.patch(
        f"/api/campaigns/{first['id']}", json={"sms_keyword": None}, headers=marketer
    )
    assert moved.json()["sms_keyword"] is None
    taken_now = await api.client.patch(url, json={"sms_keyword": "coffee"}, headers=marketer)
    assert taken_now.status_code == 200, taken_now.text
    assert taken_now.json()["sms_keyword"] == "COFFEE"


def _body(api: Api) -> dict[str, object]:
    now = api.clock.now()
    return {
        "name": "Another",
        "discount": {"kind": "percent", "value": 10},
        "starts_at": iso(now - timedelta(hours=1)),
        "ends_at": iso(now + timedelta(days=30)),
    }


async def test_without_marketing_consent_outside_its_window_or_segment_a_keyword_issues_nothing(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    await api.customer(email=None, phone=ANNA, marketing=False)
    await api.customer(email=None, phone=BELA, tags=["regular"])
    now = api.clock.now()
    await api.campaign(name="Coffee", sms_keyword="COFFEE")
    await api.campaign(
        name="Later",
        sms_keyword="LATER",
        starts_at=iso(now + timedelta(days=1)),
        ends_at=iso(now + timedelta(days=2)),
    )
    await api.campaign(name="Members", sms_keyword="VIP", segment={"tags_any": ["vip"]})
    await text_in(api.client, ANNA, "COFFEE")
    await text_in(api.client, BELA, "later")
    await text_in(api.client, BELA, "vip")
    (to_anna,) = await replies(webhook, ANNA, 1)
    to_bela = await replies(webhook, BELA, 2)
    assert to_anna["kind"] == "sms_consent"
    assert [reply["kind"] for reply in to_bela] == ["sms_offer_closed"] * 2
    assert await api.sql("SELECT count(*) FROM coupons") == [(0,)]


async def test_32_concurrent_keyword_messages_from_one_number_issue_one_coupon(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    _, anna = await api.customer(email=None, phone=ANNA)
    await api.campaign(name="Coffee", sms_keyword="COFFEE")
    answers = await asyncio.gather(*(send_sms(api.client, inbound(ANNA, "COFFEE")) for _ in range(32)))
    assert [answer.status_code for answer in answers] == [200] * 32, [
        a.text for a in answers if a.status_code != 200
    ]
    sent = await replies(webhook, ANNA, 32)
    (coupon,) = await api.coupons(anna)
    assert sorted(reply["kind"] for reply in sent) == ["sms_coupon"] + ["sms_coupon_held"] * 31
    assert {code_in(reply) for reply in sent} == {coupon["code_display"]}
    assert await api.sql("SELECT count(*) FROM coupons") == [(1,)]
    assert await api.sql("SELECT count(*) FROM events WHERE type = 'issued'") == [(1,)]


async def test_a_contest_code_by_sms_is_the_same_entry_as_in_the_app(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    created = await contest(api, name="Summer caps")
    rows = await printed_codes(api, created["id"], 3, product="Cola", points=5)
    _, anna = await api.customer(email=None, phone=ANNA, locale="hu")
    _, bob = await api.customer()
    in_app = await enter(api, created["id"], bob, rows[0]["code"])
    assert in_app.status_code == 201, in_app.text
    api.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    # Typed in lower case without dashes, by SMS.
    await text_in(api.client, ANNA, rows[1]["code_display"].replace("-", "").lower())
    (reply,) = await replies(webhook, ANNA, 1)
    assert reply["kind"] == "sms_entry_points"
    assert reply["text"] == "Summer caps: +5 pont, összesen 5. Helyezése: 2 / 2."
    board = (await api.client.get(f"/api/contests/{created['id']}/leaderboard", headers=anna)).json()
    assert [(leader["rank"], leader["points"]) for leader in board["leaders"]] == [(1, 5), (2, 5)]
    assert board["me"]["rank"] == 2
    assert board["me"]["entries"] == 1
    # The same code again, from anyone: already entered, nothing counted.
    await text_in(api.client, ANNA, rows[1]["code"])
    _, again = await replies(webhook, ANNA, 2)
    assert again["kind"] == "sms_entry_used"
    problem(await enter(api, created["id"], bob, rows[1]["code"]), 409, "code_already_entered")
    entries = await api.sql("SELECT count(*) FROM contest_entries WHERE contest_id = :c", c=created["id"])
    assert entries == [(2,)]


async def test_an_instant_win_by_sms_answers_win_or_lose(api: Api, webhook: FakeMessageWebhook) -> None:
    coffee = await api.campaign(name="Free coffee", limits={"per_customer": None})
    created = await contest(
        api,
        name="Scratch",
        kind="instant_win",
        pool_size=4,
        prizes=[{"name": "Coffee", "count": 2, "value": 300, "campaign_id": coffee["id"]}],
    )
    rows = await printed_codes(api, created["id"], 4)
    _, anna = await api.customer(email=None, phone=ANNA)
    for row in rows:
        await text_in(api.client, ANNA, row["code"])
    sent = await replies(webhook, ANNA, 4)
    kinds = sorted(reply["kind"] for reply in sent)
    assert kinds == ["sms_entry_lose", "sms_entry_lose", "sms_entry_win_code", "sms_entry_win_code"]
    prizes = [coupon for coupon in await api.coupons(anna) if coupon["campaign"]["id"] == coffee["id"]]
    assert sorted(code_in(reply) for reply in sent if reply["kind"] == "sms_entry_win_code") == sorted(
        coupon["code_display"] for coupon in prizes
    )
    assert all(
        reply["text"] == "Scratch: no prize this time. Thanks for playing!"
        for reply in sent
        if "lose" in reply["kind"]
    )


async def test_forged_codes_by_sms_count_against_the_number_and_the_contest(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    created = await contest(api)
    (row,) = await printed_codes(api, created["id"], 1, points=1)
    await api.customer(email=None, phone=ANNA)
    forged = row["code"][:-1] + ("A" if row["code"][-1] != "A" else "B")
    budget = api.settings.throttle.failed_entries_per_customer
    for _ in range(budget):
        await text_in(api.client, ANNA, forged)
    await text_in(api.client, ANNA, row["code"])  # even the right code, once the budget is spent
    sent = await replies(webhook, ANNA, budget + 1)
    # Replies may arrive in any order (the worker delivers a batch at once).
    assert sorted(reply["kind"] for reply in sent) == ["sms_code_invalid"] * budget + ["sms_throttled"]
    replied = await api.sql("SELECT reply FROM sms_inbound ORDER BY id")
    assert [row[0] for row in replied] == ["code_invalid"] * budget + ["throttled"]
    assert await api.sql("SELECT count(*) FROM contest_entries") == [(0,)]
    counted = await api.sql("SELECT subject, failures FROM attempt_counters ORDER BY subject")
    assert (f"entries:contest:{created['id']}", budget) in [(row[0], row[1]) for row in counted]


async def test_per_number_contest_limits_hold_under_32_concurrent_messages(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    created = await contest(api, limits={"per_customer": 5, "per_day": 3})
    rows = await printed_codes(api, created["id"], 32, points=1)
    await api.customer(email=None, phone=ANNA)
    answers = await asyncio.gather(*(send_sms(api.client, inbound(ANNA, row["code"])) for row in rows))
    assert [answer.status_code for answer in answers] == [200] * 32
    sent = await replies(webhook, ANNA, 32)
    kinds = sorted(reply["kind"] for reply in sent)
    assert kinds == ["sms_entry_limit"] * 29 + ["sms_entry_points"] * 3
    assert await api.sql("SELECT count(*) FROM contest_entries") == [(3,)]
    assert await api.sql("SELECT entries, points FROM contest_participants") == [(3, 3)]
    # Refused codes were not used up: they can still be entered on another day.
    unused = await api.sql("SELECT count(*) FROM contest_codes WHERE submitted_at IS NULL")
    assert unused == [(29,)]


async def test_erasure_forgets_the_number_of_the_customers_messages(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    _, anna = await api.customer(email=None, phone=ANNA)
    await text_in(api.client, ANNA, "HELP")
    await text_in(api.client, STRANGER, "HELP")
    await replies(webhook, ANNA, 1)
    assert (await api.client.delete("/api/me", headers=anna)).status_code == 204
    numbers = await api.sql("SELECT from_number FROM sms_inbound ORDER BY id")
    assert numbers == [(None,), (STRANGER,)]


async def test_numbers_are_forgotten_after_the_retention_and_repeats_still_recognised(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    await api.customer(email=None, phone=ANNA)
    await text_in(api.client, ANNA, "HELP", gateway_id="gw-old")
    await replies(webhook, ANNA, 1)
    api.clock.advance(timedelta(days=20))  # type: ignore[attr-defined]
    await text_in(api.client, STRANGER, "HELP")
    await replies(webhook, STRANGER, 1)
    api.clock.advance(timedelta(days=10, hours=1))  # type: ignore[attr-defined]
    for _ in range(250):
        numbers = await api.sql("SELECT from_number FROM sms_inbound ORDER BY id")
        if numbers[0] == (None,):
            break
        await asyncio.sleep(0.02)
    assert numbers == [(None,), (STRANGER,)]  # 30 days and an hour old, and 10 days
    again = await text_in(api.client, ANNA, "HELP", gateway_id="gw-old")
    assert again.json()["duplicate"] is True


async def voucher_codes(api: Api, target_id: int, count: int) -> list[dict[str, str]]:
    """A printed run of an SMS voucher campaign for ``target_id``, as its CSV export."""
    voucher = await api.campaign(
        name="Flyer", sms_voucher={"target_campaign_id": target_id}, limits={"per_customer": None}
    )
    assert voucher["sms_voucher"] == {"target_campaign_id": target_id}
    marketer = await api.marketer()
    response = await api.client.post(
        f"/api/campaigns/{voucher['id']}/codes", json={"count": count, "channel": "print"}, headers=marketer
    )
    assert response.status_code == 202, response.text
    batch = response.json()
    for _ in range(200):
        if (await api.client.get(batch["progress_url"], headers=marketer)).json()["status"] == "done":
            break
        await asyncio.sleep(0.05)
    export = await api.client.get(batch["export_url"], headers=marketer)
    return list(csv.DictReader(io.StringIO(export.text)))


async def test_a_printed_sms_voucher_is_exchanged_once_for_a_personal_coupon(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    staff = await api.staff(await api.store())
    target = await api.campaign(name="Pizza")
    (row,) = await voucher_codes(api, target["id"], 1)
    _, anna = await api.customer(email=None, phone=ANNA)
    _, bela = await api.customer(email=None, phone=BELA)
    await text_in(api.client, ANNA, row["code"].lower())
    (reply,) = await replies(webhook, ANNA, 1)
    assert reply["kind"] == "sms_voucher"
    (coupon,) = await api.coupons(anna)
    assert coupon["campaign"]["id"] == target["id"]
    assert code_in(reply) == coupon["code_display"]
    assert code_in(reply) != row["code"]
    # The printed code is used up: for anyone, and at a till.
    await text_in(api.client, BELA, row["code"])
    (to_bela,) = await replies(webhook, BELA, 1)
    assert to_bela["kind"] == "sms_entry_used"
    assert await api.coupons(bela) == []
    assert (await api.redeem(staff, row["code"])).status_code != 201
    assert (await api.redeem(staff, code_in(reply))).status_code == 201


async def test_vouchers_per_number_hold_under_32_concurrent_messages(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    target = await api.campaign(name="Pizza")
    rows = await voucher_codes(api, target["id"], 32)
    _, anna = await api.customer(email=None, phone=ANNA)
    answers = await asyncio.gather(*(send_sms(api.client, inbound(ANNA, row["code"])) for row in rows))
    assert [answer.status_code for answer in answers] == [200] * 32
    sent = await replies(webhook, ANNA, 32)
    kinds = sorted(reply["kind"] for reply in sent)
    assert kinds == ["sms_voucher"] * VOUCHERS_PER_NUMBER + ["sms_voucher_limit"] * (32 - VOUCHERS_PER_NUMBER)
    assert len(await api.coupons(anna)) == VOUCHERS_PER_NUMBER
    # The refused codes were not used up.
    used = await api.sql("SELECT count(*) FROM coupons WHERE revoked_at IS NOT NULL")
    assert used == [(VOUCHERS_PER_NUMBER,)]


async def test_prizes_per_number_hold_under_32_concurrent_winning_messages(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    created = await contest(
        api,
        name="Scratch",
        kind="instant_win",
        pool_size=32,
        prizes=[{"name": "Cap", "count": 32}],  # every code wins
        limits={"prizes_per_customer": 2},
    )
    assert created["limits"]["prizes_per_customer"] == 2
    rows = await printed_codes(api, created["id"], 32)
    await api.customer(email=None, phone=ANNA)
    answers = await asyncio.gather(*(send_sms(api.client, inbound(ANNA, row["code"])) for row in rows))
    assert [answer.status_code for answer in answers] == [200] * 32
    sent = await replies(webhook, ANNA, 32)
    kinds = sorted(reply["kind"] for reply in sent)
    assert kinds == ["sms_entry_lose"] * 30 + ["sms_entry_win"] * 2
    assert await api.sql("SELECT entries, wins FROM contest_participants") == [(32, 2)]
    assert await api.sql("SELECT won FROM contest_prizes") == [(2,)]
    problem(
        await api.client.post(
            "/api/contests",
            json={
                "kind": "points",
                "name": "Caps",
                "starts_at": iso(api.clock.now()),
                "ends_at": iso(api.clock.now() + timedelta(days=1)),
                "limits": {"prizes_per_customer": 1},
            },
            headers=await api.marketer(),
        ),
        422,
        "invalid_value",
    )


async def test_draw_winners_are_told_through_the_channel_they_took_part_by(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    gift = await api.campaign(name="Gift card", limits={"per_customer": None})
    created = await contest(
        api,
        name="Summer caps",
        ends_at=iso(api.clock.now() + timedelta(hours=2)),
        prizes=[{"name": "Bike"}, {"name": "Gift card", "campaign_id": gift["id"]}],
    )
    rows = await printed_codes(api, created["id"], 3, points=1)
    await api.customer(email=None, phone=ANNA, locale="it-IT")
    _, bob = await api.customer(email="bob@example.com")  # in the app, no push subscription
    await text_in(api.client, ANNA, rows[0]["code"])
    await text_in(api.client, ANNA, rows[1]["code"])
    assert (await enter(api, created["id"], bob, rows[2]["code"])).status_code == 201
    await replies(webhook, ANNA, 2)
    api.clock.advance(timedelta(hours=3))  # type: ignore[attr-defined]
    drawn = await api.client.post(f"/api/contests/{created['id']}/draw", headers=await api.marketer())
    assert drawn.status_code == 200, drawn.text
    # The marketer's record names aliases, never a number or an address.
    assert ANNA not in drawn.text
    assert "bob@example.com" not in drawn.text

    _, _, notice = await replies(webhook, ANNA, 3)  # two entry replies, then the prize
    assert notice["channel"] == "sms"
    assert notice["kind"] == "contest_prize"
    assert notice["text"] == "Hai vinto in Summer caps: Bike. Ti contatteremo per il premio."
    for _ in range(250):
        if webhook.messages_to("bob@example.com"):
            break
        await asyncio.sleep(0.02)
    (mail,) = webhook.messages_to("bob@example.com")
    assert mail["channel"] == "email"
    assert mail["subject"] == "You won in Summer caps!"
    (coupon,) = [c for c in await api.coupons(bob) if c["campaign"]["id"] == gift["id"]]
    assert f"Your code: {coupon['code_display']}" in mail["text"]
    assert "/wallet/links/" in mail["text"]
    entries = await api.sql("SELECT medium FROM contest_entries ORDER BY id")
    assert [row[0] for row in entries] == ["sms", "sms", "manual"]  # the app: a typed code


async def test_replies_that_need_no_service_are_written_like_the_others_once_per_id(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    """HELP from anyone and anything from a stranger are written in one call on the raw
    connection (``sms.writers``): the same rows as the full path, a repeated id changing nothing."""
    anna_id, _ = await api.customer(email=None, phone=ANNA)
    first = await send_sms(api.client, inbound(STRANGER, "HELP", gateway_id="gw-simple-1"))
    again = await send_sms(api.client, inbound(STRANGER, "HELP", gateway_id="gw-simple-1"))
    assert first.json() == {"id": "gw-simple-1", "duplicate": False}
    assert again.json() == {"id": "gw-simple-1", "duplicate": True}
    await text_in(api.client, STRANGER, "stop")
    await text_in(api.client, ANNA, "Help")
    await text_in(api.client, ANNA, "STOP")  # a customer's STOP: the full path
    kinds = sorted(reply["kind"] for reply in await replies(webhook, STRANGER, 2))
    assert kinds == ["sms_help", "sms_stop"]
    assert sorted(reply["kind"] for reply in await replies(webhook, ANNA, 2)) == ["sms_help", "sms_stop"]
    rows = await api.sql("SELECT reply, customer_id, from_number FROM sms_inbound ORDER BY id")
    assert [tuple(row) for row in rows] == [
        ("help", None, STRANGER),
        ("stop", None, STRANGER),
        ("help", anna_id, ANNA),
        ("stop", anna_id, ANNA),
    ]
    queued = await api.sql(
        "SELECT o.target, o.payload, o.attempts FROM outbox o WHERE o.topic = 'sms_reply' ORDER BY o.id"
    )
    inbound_ids = [str(row[0]) for row in await api.sql("SELECT id FROM sms_inbound ORDER BY id")]
    assert [row[0] for row in queued] == inbound_ids
    payloads = [row[1] if isinstance(row[1], dict) else json.loads(row[1]) for row in queued]
    assert payloads == [{"reply": "help"}, {"reply": "stop"}, {"reply": "help"}, {"reply": "stop"}]
    events = await api.sql(
        "SELECT customer_id, channel, data FROM events WHERE type = 'sms_received' ORDER BY id"
    )
    assert [
        (row[0], row[1], row[2] if isinstance(row[2], dict) else json.loads(row[2])) for row in events
    ] == [
        (None, "sms", {"reply": "help"}),
        (None, "sms", {"reply": "stop"}),
        (anna_id, "sms", {"reply": "help"}),
        (anna_id, "sms", {"reply": "stop"}),
    ]
    # Only the customer's STOP withdrew consent.
    assert await api.sql("SELECT marketing_consent FROM customers") == [(False,)]
