"""Retries get the first answer; guessing codes is throttled; limits hold."""

from __future__ import annotations

from datetime import timedelta

from tessera.codes.formats import random_code_from_bytes
from tests.support.api import Api, problem


async def _one_coupon(api: Api, **campaign: object) -> tuple[dict[str, object], dict[str, str]]:
    _, customer = await api.customer()
    created = await api.campaign(**campaign)
    await api.publish(created["id"])
    [coupon] = await api.coupons(customer)
    return coupon, customer


async def test_same_key_replays_first_answer_and_other_body_is_refused(api: Api) -> None:
    coupon, _ = await _one_coupon(api)
    staff = await api.staff()
    first = await api.redeem(staff, str(coupon["code"]), key="k-1")
    replay = await api.redeem(staff, str(coupon["code"]), key="k-1")
    assert first.status_code == replay.status_code == 201
    assert first.json() == replay.json()
    assert replay.headers["idempotent-replayed"] == "true"
    problem(await api.redeem(staff, str(coupon["qr_payload"]), key="k-1"), 422, "idempotency_key_reused")
    problem(await api.redeem(staff, str(coupon["code"]), key="k-2"), 409, "already_redeemed")
    rows = await api.sql("SELECT count(*) FROM redemptions")
    assert rows[0][0] == 1


async def test_failed_answer_is_replayed_too(api: Api) -> None:
    coupon, _ = await _one_coupon(api)
    staff = await api.staff()
    assert (await api.redeem(staff, str(coupon["code"]))).status_code == 201
    first = await api.redeem(staff, str(coupon["code"]), key="late")
    problem(first, 409, "already_redeemed")
    assert (await api.redeem(staff, str(coupon["code"]), key="late")).json() == first.json()


async def test_idempotent_void_and_publish(api: Api) -> None:
    coupon, _ = await _one_coupon(api)
    staff = await api.staff()
    redemption = (await api.redeem(staff, str(coupon["code"]))).json()
    headers = {**staff, "Idempotency-Key": "void-1"}
    first = await api.client.post(f"/api/redemptions/{redemption['id']}/void", headers=headers)
    again = await api.client.post(f"/api/redemptions/{redemption['id']}/void", headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert (await api.sql("SELECT count(*) FROM redemptions WHERE kind = 'void'"))[0][0] == 1


async def test_unknown_forged_and_malformed_codes_get_one_answer(api: Api) -> None:
    coupon, _ = await _one_coupon(api)
    staff = await api.staff()
    code = str(coupon["code"])
    forged = random_code_from_bytes(b"\x01" * (len(code) - 1))  # well-formed, never issued
    typo = code[:-1] + ("2" if code[-1] != "2" else "3")
    answers = [
        problem(await api.redeem(staff, candidate), 404, "invalid_code")
        for candidate in (forged, typo, "hello", "TSR1:X:" + code, "4006381333931", "", "x" * 5000)
    ]
    for answer in answers:
        answer.pop("instance", None)
    assert all(answer == answers[0] for answer in answers)


async def test_repeated_failed_scans_are_throttled_per_staff(api: Api) -> None:
    coupon, _ = await _one_coupon(api)
    staff = await api.staff()
    colleague = await api.staff()
    for serial in range(10):
        guess = random_code_from_bytes(bytes([serial + 1]) * 15)
        problem(await api.redeem(staff, guess), 404, "invalid_code")
    blocked = await api.redeem(staff, str(coupon["code"]))
    problem(blocked, 429, "too_many_attempts")
    assert 0 < int(blocked.headers["retry-after"]) <= 300
    problem(
        await api.client.post("/api/redemptions/validate", json={"code": coupon["code"]}, headers=staff),
        429,
        "too_many_attempts",
    )
    # The throttle is per account: a colleague still redeems, and the window passes.
    assert (await api.redeem(colleague, str(coupon["code"]))).status_code == 201
    api.clock.advance(timedelta(minutes=5))
    problem(await api.redeem(await api.staff(), str(coupon["code"])), 409, "already_redeemed")


async def test_campaign_max_redemptions_and_limit_added_later(api: Api) -> None:
    campaign = await api.campaign(limits={"per_customer": None, "max_redemptions": 2})
    customers = [await api.customer() for _ in range(4)]
    await api.publish(campaign["id"])
    staff = await api.staff()
    codes = [(await api.coupons(headers))[0]["code"] for _, headers in customers]
    assert [(await api.redeem(staff, code)).status_code for code in codes[:2]] == [201, 201]
    problem(await api.redeem(staff, codes[2]), 422, "limit_reached")
    # the refused coupon is untouched and can be used once the cap is raised
    raised = await api.client.patch(
        f"/api/campaigns/{campaign['id']}",
        json={"limits": {"max_redemptions": 3}},
        headers=await api.marketer(),
    )
    assert raised.status_code == 200, raised.text
    assert raised.json()["redemption_count"] == 2
    assert (await api.redeem(staff, codes[2])).status_code == 201
    problem(await api.redeem(staff, codes[3]), 422, "limit_reached")

    unlimited = await api.campaign(limits={"per_customer": None})
    await api.publish(unlimited["id"])
    first = (await api.coupons(customers[0][1]))[0]
    assert first["campaign"]["id"] == unlimited["id"]
    assert (await api.redeem(staff, first["code"])).status_code == 201
    capped = await api.client.patch(
        f"/api/campaigns/{unlimited['id']}",
        json={"limits": {"max_redemptions": 1}},
        headers=await api.marketer(),
    )
    assert capped.json()["redemption_count"] == 1
    second = (await api.coupons(customers[1][1]))[0]
    problem(await api.redeem(staff, second["code"]), 422, "limit_reached")


async def test_per_customer_limit_across_personal_coupons(api: Api) -> None:
    customer_id, customer = await api.customer()
    campaign = await api.campaign(limits={"per_customer": 1})
    await api.publish(campaign["id"])
    marketer = await api.marketer()
    extra = await api.client.post(
        f"/api/campaigns/{campaign['id']}/coupons",
        json={"customer_id": customer_id, "channel": "email", "message_id": "newsletter-1"},
        headers=marketer,
    )
    assert extra.status_code == 201, extra.text
    again = await api.client.post(
        f"/api/campaigns/{campaign['id']}/coupons",
        json={"customer_id": customer_id, "channel": "email", "message_id": "newsletter-1"},
        headers=marketer,
    )
    assert again.json()["id"] == extra.json()["id"]
    coupons = await api.coupons(customer)
    assert len(coupons) == 2
    staff = await api.staff()
    assert (await api.redeem(staff, coupons[0]["code"])).status_code == 201
    problem(await api.redeem(staff, coupons[1]["code"]), 422, "limit_reached")
    assert {c["channel"] for c in await api.coupons(customer)} == {"pwa", "email"}
