"""Staff accounts a marketer manages through HTTP, on both stores: the list, a password reset,
and disabling a leaver, whose tokens are refused from that answer on (the till's redemption
included) and who cannot sign in until enabled again."""

from __future__ import annotations

from tests.support.api import Api, bearer, problem

PASSWORD = "correct horse battery"


async def new_account(api: Api, store_id: int, username: str) -> int:
    created = await api.client.post(
        "/api/staff",
        json={"username": username, "password": PASSWORD, "store_id": store_id, "can_void": False},
        headers=await api.marketer(),
    )
    assert created.status_code == 201, created.text
    assert created.json()["disabled"] is False
    staff_id: int = created.json()["id"]
    return staff_id


async def sign_in(api: Api, username: str, password: str = PASSWORD) -> int:
    answer = await api.client.post("/api/auth/staff/login", json={"username": username, "password": password})
    return answer.status_code if answer.status_code != 200 else 200


async def test_a_disabled_login_is_refused_at_once_and_can_be_enabled_again(api: Api) -> None:
    marketer = await api.marketer()
    milan, rome = await api.store("Milan"), await api.store("Rome")
    leaver = await new_account(api, milan, "till.leaver")
    await new_account(api, rome, "till.stays")
    login = await api.client.post(
        "/api/auth/staff/login", json={"username": "till.leaver", "password": PASSWORD}
    )
    token = bearer(login.json()["token"])
    offer = await api.campaign(limits={"per_customer": None})
    await api.publish(offer["id"])
    _, customer = await api.customer()
    (coupon,) = await api.coupons(customer)
    assert (await api.client.get("/api/auth/staff/me", headers=token)).status_code == 200

    listed = await api.client.get("/api/staff", params={"store_id": milan}, headers=marketer)
    assert [(s["username"], s["disabled"]) for s in listed.json()] == [("till.leaver", False)]

    disabled = await api.client.patch(f"/api/staff/{leaver}", json={"disabled": True}, headers=marketer)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    problem(await api.client.get("/api/auth/staff/me", headers=token), 401, "not_authenticated")
    problem(await api.redeem(token, coupon["code"]), 401, "not_authenticated")
    assert await sign_in(api, "till.leaver") == 401
    assert await api.sql("SELECT count(*) FROM redemptions") == [(0,)]

    enabled = await api.client.patch(f"/api/staff/{leaver}", json={"disabled": False}, headers=marketer)
    assert enabled.json()["disabled"] is False
    problem(
        await api.client.get("/api/auth/staff/me", headers=token), 401, "not_authenticated"
    )  # still ended
    assert await sign_in(api, "till.leaver") == 200

    problem(
        await api.client.patch("/api/staff/99999", json={"disabled": True}, headers=marketer),
        404,
        "staff_not_found",
    )
    problem(
        await api.client.patch(f"/api/staff/{leaver}", json={"store_id": 99999}, headers=marketer),
        404,
        "store_not_found",
    )


async def test_a_password_reset_ends_the_old_sessions(api: Api) -> None:
    marketer = await api.marketer()
    store = await api.store()
    staff_id = await new_account(api, store, "till.forgot")
    login = await api.client.post(
        "/api/auth/staff/login", json={"username": "till.forgot", "password": PASSWORD}
    )
    old = bearer(login.json()["token"])
    reset = await api.client.patch(
        f"/api/staff/{staff_id}",
        json={"password": "a new long passphrase", "can_void": True},
        headers=marketer,
    )
    assert reset.status_code == 200, reset.text
    assert reset.json()["can_void"] is True
    assert "password" not in reset.text
    problem(await api.client.get("/api/auth/staff/me", headers=old), 401, "not_authenticated")
    assert await sign_in(api, "till.forgot") == 401
    assert await sign_in(api, "till.forgot", "a new long passphrase") == 200
