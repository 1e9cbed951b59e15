"""The core journey through HTTP only: register → campaign → publish → coupon → redeem."""

from __future__ import annotations

from datetime import timedelta

from tests.support.api import Api, problem


async def test_register_publish_redeem_void_redeem(api: Api) -> None:
    _, customer = await api.customer()
    campaign = await api.campaign()
    published = await api.publish(campaign["id"])
    assert (published["status"], published["eligible"], published["issued"]) == ("done", 1, 1)

    [coupon] = await api.coupons(customer)
    assert coupon["status"] == "active"
    assert coupon["campaign"]["id"] == campaign["id"]
    assert coupon["discount"] == {"kind": "percent", "value": 20, "currency": None}

    staff = await api.staff()
    first = await api.redeem(staff, coupon["qr_payload"], key="till-1", order_total=4500)
    assert first.status_code == 201, first.text
    redemption = first.json()
    assert redemption["coupon_id"] == coupon["id"]
    assert redemption["medium"] == "pwa"
    assert redemption["channel"] == "pwa"
    assert redemption["order_total"] == 4500

    again = await api.redeem(staff, coupon["code"])
    body = problem(again, 409, "already_redeemed")
    assert body["store_id"] == redemption["store_id"]
    assert body["store_name"] == "Store"
    assert body["redeemed_at"] == redemption["redeemed_at"]
    checked = await api.client.post("/api/redemptions/validate", json={"code": coupon["code"]}, headers=staff)
    body = problem(checked, 409, "already_redeemed")
    assert (body["store_id"], body["store_name"]) == (redemption["store_id"], "Store")

    [redeemed] = await api.coupons(customer)
    assert redeemed["status"] == "redeemed"

    void = await api.client.post(f"/api/redemptions/{redemption['id']}/void", headers=staff)
    assert void.status_code == 200, void.text
    assert (await api.coupons(customer))[0]["status"] == "active"
    problem(
        await api.client.post(f"/api/redemptions/{redemption['id']}/void", headers=staff),
        409,
        "already_voided",
    )

    second = await api.redeem(staff, coupon["code_display"].lower(), entry="manual")
    assert second.status_code == 201, second.text
    assert second.json()["medium"] == "manual"
    assert second.json()["id"] != redemption["id"]


async def test_expired_coupon_answers_410(api: Api) -> None:
    _, customer = await api.customer()
    campaign = await api.campaign(coupon_valid_days=2)
    await api.publish(campaign["id"])
    [coupon] = await api.coupons(customer)

    api.clock.advance(timedelta(days=2, seconds=1))
    staff = await api.staff()
    body = problem(await api.redeem(staff, coupon["code"]), 410, "expired")
    assert body["expired_at"] == coupon["expires_at"]
    assert (await api.coupons(customer))[0]["status"] == "expired"
    problem(
        await api.client.post("/api/redemptions/validate", json={"code": coupon["code"]}, headers=staff),
        410,
        "expired",
    )


async def test_not_yet_valid_and_campaign_end_caps_expiry(api: Api) -> None:
    _, customer = await api.customer()
    now = api.clock.now()
    campaign = await api.campaign(
        starts_at=(now + timedelta(days=1)).isoformat(),
        ends_at=(now + timedelta(days=3)).isoformat(),
        coupon_valid_days=30,
    )
    await api.publish(campaign["id"])
    [coupon] = await api.coupons(customer)
    assert coupon["status"] == "scheduled"
    assert coupon["expires_at"].startswith((now + timedelta(days=3)).date().isoformat())
    staff = await api.staff()
    problem(await api.redeem(staff, coupon["code"]), 422, "not_yet_valid")
    api.clock.advance(timedelta(days=1))
    assert (await api.redeem(await api.staff(), coupon["code"])).status_code == 201


async def test_validate_reports_offer_without_redeeming(api: Api) -> None:
    _, customer = await api.customer()
    campaign = await api.campaign()
    await api.publish(campaign["id"])
    [coupon] = await api.coupons(customer)
    staff = await api.staff()
    response = await api.client.post(
        "/api/redemptions/validate", json={"code": coupon["code"]}, headers=staff
    )
    assert response.status_code == 200, response.text
    assert response.json()["coupon_id"] == coupon["id"]
    assert response.json()["campaign"]["name"] == "Spring 20%"
    assert response.json()["expires_at"] == coupon["expires_at"]
    assert (await api.coupons(customer))[0]["status"] == "active"


async def test_publish_is_idempotent_and_respects_consent_and_segment(api: Api) -> None:
    await api.customer(tags=["coffee"])
    await api.customer(tags=["tea"])
    await api.customer(tags=["coffee"], marketing=False)
    campaign = await api.campaign(segment={"tags_any": ["coffee"]})
    first, second = await api.publish(campaign["id"]), await api.publish(campaign["id"])
    assert (first["eligible"], first["issued"], first["already_had"]) == (1, 1, 0)
    assert (second["eligible"], second["issued"], second["already_had"]) == (0, 0, 1)
    assert second["job_id"] != first["job_id"]


async def test_customer_registering_during_campaign_gets_coupon(api: Api) -> None:
    campaign = await api.campaign(segment={"attributes": {"city": "Budapest"}})
    await api.publish(campaign["id"])
    _, outsider = await api.customer(attributes={"city": "Warsaw"})
    _, insider = await api.customer(attributes={"city": "Budapest"})
    _, no_consent = await api.customer(attributes={"city": "Budapest"}, marketing=False)
    assert await api.coupons(outsider) == []
    assert len(await api.coupons(insider)) == 1
    assert await api.coupons(no_consent) == []


async def test_ean13_campaign_codes_redeem_as_print(api: Api) -> None:
    _, customer = await api.customer()
    campaign = await api.campaign(code={"format": "ean13", "prefix": "99"})
    await api.publish(campaign["id"])
    [coupon] = await api.coupons(customer)
    assert len(coupon["code"]) == 13
    assert coupon["code"].startswith("99")
    staff = await api.staff()
    response = await api.redeem(staff, coupon["code"])
    assert response.status_code == 201, response.text
    assert response.json()["medium"] == "print"


async def test_staff_see_their_store_and_its_scanner_setting(api: Api) -> None:
    store_id = await api.store("Corso Como")
    staff = await api.staff(store_id, can_void=False)
    me = await api.client.get("/api/auth/staff/me", headers=staff)
    assert me.status_code == 200, me.text
    assert me.json()["can_void"] is False
    assert me.json()["store"] == {
        "id": store_id,
        "name": "Corso Como",
        "timezone": "Europe/Budapest",
        "location": None,
        "auto_redeem": False,
    }
    changed = await api.client.patch(
        f"/api/stores/{store_id}", json={"auto_redeem": True}, headers=await api.marketer()
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["auto_redeem"] is True
    assert (await api.client.get("/api/auth/staff/me", headers=staff)).json()["store"]["auto_redeem"] is True
    problem(
        await api.client.patch(f"/api/stores/{store_id}", json={"auto_redeem": True}, headers=staff),
        403,
        "forbidden",
    )
    problem(
        await api.client.patch(
            f"/api/stores/{store_id}", json={"timezone": "Mars/Olympus"}, headers=await api.marketer()
        ),
        422,
        "invalid_value",
    )
    problem(
        await api.client.patch("/api/stores/9999", json={}, headers=await api.marketer()),
        404,
        "store_not_found",
    )
    assert (await api.client.get("/api/auth/staff/me", headers=await api.marketer())).status_code == 403
