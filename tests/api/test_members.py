"""Member cards through HTTP, on SQLite and PostgreSQL: the customer's own card, the till's
lookup (open coupons only, one answer for every card it does not know, throttled like coupon
scans), redeeming from the lookup as medium ``member_card``, erasure, and the events."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from tessera.codes.formats import MEMBER_CODE_LENGTH, MEMBER_RESIDUE, is_valid_member, is_valid_random
from tessera.codes.formats import random_code_from_bytes as code_from_bytes
from tessera.codes.payloads import parse_member
from tests.support.api import Api, Headers, iso, problem

LOOKUP = "/api/members/lookup"


async def member_card(api: Api, customer: Headers) -> dict[str, Any]:
    response = await api.client.get("/api/me/card", headers=customer)
    assert response.status_code == 200, response.text
    card: dict[str, Any] = response.json()
    return card


async def lookup(api: Api, staff: Headers, code: str, **extra: Any) -> Any:
    return await api.client.post(LOOKUP, json={"code": code, **extra}, headers=staff)


async def coupon_of(api: Api, customer: Headers, campaign_id: int) -> dict[str, Any]:
    (coupon,) = [c for c in await api.coupons(customer) if c["campaign"]["id"] == campaign_id]
    return coupon


async def personal_coupon(api: Api, campaign_id: int, customer_id: int, message: str) -> dict[str, Any]:
    response = await api.client.post(
        f"/api/campaigns/{campaign_id}/coupons",
        json={"customer_id": customer_id, "channel": "email", "message_id": message},
        headers=await api.marketer(),
    )
    assert response.status_code == 201, response.text
    coupon: dict[str, Any] = response.json()
    return coupon


def without_instance(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "instance"}


async def events(api: Api, type_: str) -> list[tuple[Any, ...]]:
    """(customer, medium, store, staff, campaign, coupon, data) of each event of ``type_``."""
    rows = await api.sql(
        "SELECT customer_id, medium, store_id, staff_id, campaign_id, coupon_id, data FROM events "
        "WHERE type = :type ORDER BY id",
        type=type_,
    )
    return [(*row[:6], json.loads(row[6]) if isinstance(row[6], str) else row[6]) for row in rows]


async def test_each_customer_has_one_card_of_their_own(api: Api) -> None:
    a_id, a = await api.customer()
    _, b = await api.customer()
    first, again, other = await member_card(api, a), await member_card(api, a), await member_card(api, b)
    assert first == again
    assert first["member_code"] != other["member_code"]
    code = first["member_code"]
    assert len(code) == MEMBER_CODE_LENGTH
    assert is_valid_member(code)
    assert not is_valid_random(code)  # never a coupon code
    assert first["qr_payload"] == f"TSM1:P:{code}"
    assert parse_member(first["qr_payload"]).code == code
    assert first["code_display"].replace("-", "") == code
    assert first["qr_svg"].startswith("<svg")
    assert first["apple_pass_url"] == "/api/me/card/pass.pkpass"
    assert first["google_wallet_url"] == "/api/me/card/google-wallet"
    # Only a digest is kept, one row per customer.
    rows = await api.sql("SELECT customer_id, code_digest FROM member_cards ORDER BY customer_id")
    assert len(rows) == 2
    assert rows[0][0] == a_id
    assert code.encode() not in bytes(rows[0][1])
    assert len(bytes(rows[0][1])) == 16
    # A till is not a customer: it has no card of its own to show.
    problem(await api.client.get("/api/me/card", headers=await api.staff()), 403, "forbidden")


async def test_the_lookup_shows_the_members_open_coupons_and_nothing_else(api: Api) -> None:
    a_id, a = await api.customer(name="Ada Augusta Lovelace", phone="+393123456789")
    _, b = await api.customer()
    # Expired by the time of the lookup: valid for one day, two days ago.
    short = await api.campaign(name="One day only", coupon_valid_days=1)
    await api.publish(short["id"])
    api.clock.advance(timedelta(days=2))
    other_till = await api.staff()
    spring = await api.campaign(name="Spring 20%", description="On everything")
    coffee = await api.campaign(name="Coffee", discount={"kind": "free_item", "value": 1})
    redeemed = await api.campaign(name="Already used")
    sold_out = await api.campaign(name="Sold out", limits={"per_customer": 1, "max_redemptions": 1})
    later = await api.campaign(
        name="Next week",
        starts_at=iso(api.clock.now() + timedelta(days=7)),
        ends_at=iso(api.clock.now() + timedelta(days=30)),
    )
    for campaign in (spring, coffee, redeemed, sold_out, later):
        await api.publish(campaign["id"])
    per_customer = await api.campaign(
        name="Once each", limits={"per_customer": 1}, segment={"tags_any": ["none"]}
    )
    await api.publish(per_customer["id"])
    first = await personal_coupon(api, per_customer["id"], a_id, "m-1")
    await personal_coupon(api, per_customer["id"], a_id, "m-2")
    for code in (
        first["code"],
        (await coupon_of(api, a, redeemed["id"]))["code"],
        (await coupon_of(api, b, sold_out["id"]))["code"],  # the campaign's only redemption
    ):
        assert (await api.redeem(other_till, code)).status_code == 201

    card = await member_card(api, a)
    staff = await api.staff(await api.store("Corso Como"))
    response = await lookup(api, staff, card["qr_payload"])
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["member"] == {"display_name": "Ada L.", "card_ending": card["member_code"][-4:]}
    assert answer["medium"] == "pwa"
    spring_a, coffee_a = await coupon_of(api, a, spring["id"]), await coupon_of(api, a, coffee["id"])
    assert [c["coupon_id"] for c in answer["coupons"]] == [spring_a["id"], coffee_a["id"]]
    assert answer["coupons"][0] == {
        "coupon_id": spring_a["id"],
        "campaign": {"id": spring["id"], "name": "Spring 20%", "description": "On everything"},
        "discount": {"kind": "percent", "value": 20, "currency": None},
        "valid_from": spring_a["valid_from"],
        "expires_at": spring_a["expires_at"],
        "redeem_code": f"TSR1:M:{spring_a['code']}",
        "min_order_total": None,
    }
    # Nothing of the member's contact details, full name or other customers' coupons.
    assert set(answer) == {"member", "medium", "coupons"}  # no customer id either
    for private in ("Lovelace", "Augusta", "+393123456789", "@example.com"):
        assert private not in response.text
    for coupon in await api.coupons(b):
        assert coupon["code"] not in response.text

    # Audited: who looked up whom, where, with which card, and how many coupons were open.
    [looked_up] = await events(api, "member_looked_up")
    staff_id = (await api.client.get("/api/auth/staff/me", headers=staff)).json()["staff_id"]
    store_id = (await api.client.get("/api/auth/staff/me", headers=staff)).json()["store"]["id"]
    assert tuple(looked_up[:6]) == (a_id, "pwa", store_id, staff_id, None, None)
    assert looked_up[6] == {"open_coupons": 2}


async def test_a_coupon_redeemed_from_the_lookup_goes_through_the_ledger_as_member_card(api: Api) -> None:
    _, customer = await api.customer()
    campaign = await api.campaign(name="Spring 20%")
    await api.publish(campaign["id"])
    staff = await api.staff()
    card = await member_card(api, customer)
    [offer] = (await lookup(api, staff, card["qr_payload"])).json()["coupons"]

    first = await api.redeem(staff, offer["redeem_code"], key="till-1-0001", order_total=5000)
    assert first.status_code == 201, first.text
    assert first.json()["medium"] == "member_card"
    assert first.json()["coupon_id"] == offer["coupon_id"]
    replay = await api.redeem(staff, offer["redeem_code"], key="till-1-0001", order_total=5000)
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    problem(await api.redeem(staff, offer["redeem_code"], key="till-1-0002"), 409, "already_redeemed")
    assert (await api.sql("SELECT count(*), min(medium) FROM redemptions"))[0] == (1, "member_card")

    (coupon,) = await api.coupons(customer)
    assert coupon["status"] == "redeemed"
    assert (await lookup(api, staff, card["qr_payload"])).json()["coupons"] == []
    media = await api.client.get(
        "/api/analytics/channels",
        params={"campaign_id": campaign["id"], "by": "medium"},
        headers=await api.marketer(),
    )
    rows = {row["key"]: row for row in media.json()["rows"]}
    assert rows["member_card"]["redeemed"] == 1


async def test_member_cards_and_coupons_are_never_taken_for_each_other(api: Api) -> None:
    _, customer = await api.customer()
    campaign = await api.campaign()
    await api.publish(campaign["id"])
    (coupon,) = await api.coupons(customer)
    card = await member_card(api, customer)
    staff = await api.staff()
    unknown_coupon = code_from_bytes(secrets.token_bytes(15))
    unknown_member = code_from_bytes(secrets.token_bytes(MEMBER_CODE_LENGTH - 1), MEMBER_RESIDUE)

    refused = problem(await api.redeem(staff, unknown_coupon), 404, "invalid_code")
    for presented in (
        card["qr_payload"],
        card["member_code"],
        card["code_display"],
        f"TSM1:A:{card['member_code']}",
    ):
        for path in ("/api/redemptions", "/api/redemptions/validate"):
            answer = await api.client.post(path, json={"code": presented}, headers=staff)
            assert without_instance(problem(answer, 404, "invalid_code")) == without_instance(refused), (
                presented
            )

    not_a_card = problem(await lookup(api, staff, unknown_member), 404, "invalid_member_code")
    offer_code = (await lookup(api, staff, card["qr_payload"])).json()["coupons"][0]["redeem_code"]
    for presented in (coupon["qr_payload"], coupon["code"], coupon["code_display"], offer_code):
        answer = await lookup(api, staff, presented)
        assert without_instance(problem(answer, 404, "invalid_member_code")) == without_instance(not_a_card)
    (still,) = await api.coupons(customer)
    assert still["status"] == "active"


async def test_unknown_forged_malformed_and_erased_cards_get_one_answer(api: Api) -> None:
    _, customer = await api.customer()
    _, leaving = await api.customer(name="Grace Hopper")
    campaign = await api.campaign()
    await api.publish(campaign["id"])
    card, gone = await member_card(api, customer), await member_card(api, leaving)
    staff = await api.staff()
    assert (await lookup(api, staff, gone["qr_payload"])).status_code == 200

    erased = await api.client.delete("/api/me", headers=leaving)
    assert erased.status_code == 204
    assert len(await api.sql("SELECT customer_id FROM member_cards")) == 1
    problem(await api.client.get("/api/me/card", headers=leaving), 401, "not_authenticated")

    code = card["member_code"]
    typo = code[:-1] + ("2" if code[-1] != "2" else "3")
    at = next(i for i in range(len(code) - 1) if code[i] != code[i + 1])
    swapped = code[:at] + code[at + 1] + code[at] + code[at + 2 :]
    presented = [
        gone["qr_payload"],  # erased: the card is never found again
        gone["member_code"],
        code_from_bytes(secrets.token_bytes(MEMBER_CODE_LENGTH - 1), MEMBER_RESIDUE),  # forged
        f"TSM1:A:{typo}",
        swapped,
        f"TSM1:Z:{code}",  # no such wallet
        "TSM1:P",
        "",
        "x" * 128,
        "x" * 5000,
        code[:-1],
    ]
    bodies = []
    for text in presented:
        answer = await api.client.post(LOOKUP, json={"code": text}, headers=staff)
        bodies.append(without_instance(problem(answer, 404, "invalid_member_code")))
    assert all(body == bodies[0] for body in bodies)
    # The erased member's lookups were audited before the erasure, never after.
    assert [row[0] is not None for row in await events(api, "member_looked_up")] == [True]
    assert (await lookup(api, staff, card["qr_payload"])).status_code == 200


async def test_failed_lookups_count_as_failed_scans(api: Api) -> None:
    """Budget of the test settings: 10 failures per staff account per 300-second window; a
    failed lookup and a failed coupon scan spend the same budget."""
    _, customer = await api.customer()
    card = await member_card(api, customer)
    staff = await api.staff()
    for _ in range(3):  # malformed: refused before any database work, not counted
        problem(await lookup(api, staff, "TSM1:P:NOTACARD"), 404, "invalid_member_code")
    for _ in range(4):
        problem(await api.redeem(staff, code_from_bytes(secrets.token_bytes(15))), 404, "invalid_code")
    for _ in range(6):
        forged = code_from_bytes(secrets.token_bytes(MEMBER_CODE_LENGTH - 1), MEMBER_RESIDUE)
        problem(await lookup(api, staff, forged), 404, "invalid_member_code")

    throttled = await lookup(api, staff, card["qr_payload"])  # even a good card, from this account
    body = problem(throttled, 429, "too_many_attempts")
    assert int(throttled.headers["retry-after"]) == body["retry_after"] >= 1
    problem(await api.redeem(staff, code_from_bytes(secrets.token_bytes(15))), 429, "too_many_attempts")
    assert (await lookup(api, await api.staff(), card["qr_payload"])).status_code == 200  # another store

    api.clock.advance(timedelta(seconds=300))
    assert (await lookup(api, staff, card["qr_payload"])).status_code == 200


async def test_lookups_by_the_wallet_passes_and_typed_numbers_name_their_medium(api: Api) -> None:
    customer_id, customer = await api.customer()
    card = await member_card(api, customer)
    staff = await api.staff()
    code = card["member_code"]
    for presented, entry, medium in (
        (f"TSM1:A:{code}", "scan", "apple_wallet"),
        (f"tsm1:g:{code.lower()}", "scan", "google_wallet"),
        (card["code_display"], "scan", "manual"),
        (card["qr_payload"], "manual", "manual"),
    ):
        answer = await lookup(api, staff, presented, entry=entry)
        assert answer.status_code == 200, answer.text
        assert answer.json()["medium"] == medium
    assert [row[:2] for row in await events(api, "member_looked_up")] == [
        (customer_id, medium) for medium in ("apple_wallet", "google_wallet", "manual", "manual")
    ]
    problem(await api.client.post(LOOKUP, json={"code": code}, headers=customer), 403, "forbidden")
    problem(await api.client.post(LOOKUP, json={"code": code}), 401, "not_authenticated")
