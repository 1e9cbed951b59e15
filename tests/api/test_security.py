"""Who may call what, and what one customer can never see of another."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.support.api import Api, bearer, problem


async def test_every_api_route_states_its_role_and_refuses_anonymous(api: Api) -> None:
    schema = (await api.client.get("/schema/openapi.json")).json()
    public = {
        ("post", "/api/customers"),
        ("post", "/api/auth/staff/login"),
        ("post", "/api/auth/customer/code"),
        ("post", "/api/auth/customer/login"),
        ("get", "/api/push/vapid-public-key"),
        ("get", "/api/contests"),
        ("get", "/api/contests/{contest_id}"),
        ("get", "/api/contests/{contest_id}/leaderboard"),
        ("get", "/api/contests/{contest_id}/draw"),
    }
    # Called by a gateway that signs each message instead of holding a bearer token.
    signed = {
        ("post", "/api/sms/inbound"): "invalid_signature",
        ("post", "/api/messages/receipts"): "invalid_signature",
    }
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            summary = operation.get("summary", "")
            assert summary.endswith(")"), f"{method} {path} does not name its role"
            assert "(" in summary, f"{method} {path} does not name its role"
            if (method, path) in public:
                continue
            url = re.sub(r"\{\w+_id\}", "1", path)
            response = await api.client.request(method.upper(), url, json={})
            problem(response, 401, signed.get((method, path), "not_authenticated"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/campaigns"),
        ("POST", "/api/stores"),
        ("GET", "/api/customers"),
        ("POST", "/api/redemptions"),
        ("GET", "/api/me"),
    ],
)
async def test_wrong_role_is_forbidden(api: Api, method: str, path: str) -> None:
    _, customer = await api.customer()
    staff = await api.staff()
    marketer = await api.marketer()
    by_role = {"customer": customer, "staff": staff, "marketer": marketer}
    allowed = {
        "/api/campaigns": "marketer",
        "/api/stores": "marketer",
        "/api/customers": "marketer",
        "/api/redemptions": "staff",
        "/api/me": "customer",
    }[path]
    for role, headers in by_role.items():
        if role == allowed:
            continue
        response = await api.client.request(method, path, json={"code": "x"}, headers=headers)
        problem(response, 403, "forbidden")


async def test_bad_and_revoked_tokens_are_unauthenticated(api: Api) -> None:
    for header in ("Bearer nonsense", "Bearer tsk_forged", "Basic abc", "Bearer "):
        response = await api.client.get("/api/campaigns", headers={"Authorization": header})
        problem(response, 401, "not_authenticated")


async def test_customer_never_sees_another_customers_coupon(api: Api) -> None:
    _, alice = await api.customer()
    _, bob = await api.customer()
    campaign = await api.campaign()
    await api.publish(campaign["id"])
    [alices] = await api.coupons(alice)
    [bobs] = await api.coupons(bob)
    assert alices["code"] != bobs["code"]
    own = await api.client.get(f"/api/coupons/{alices['id']}/qr.svg", headers=alice)
    assert own.status_code == 200
    assert own.headers["content-type"].startswith("image/svg+xml")
    problem(await api.client.get(f"/api/coupons/{alices['id']}/qr.svg", headers=bob), 404, "coupon_not_found")
    problem(await api.client.get("/api/coupons/999999/qr.svg", headers=bob), 404, "coupon_not_found")


async def test_staff_token_expires_and_logout_revokes(api: Api) -> None:
    staff = await api.staff()
    assert (
        await api.client.post("/api/redemptions/validate", json={"code": "x"}, headers=staff)
    ).status_code == 404
    logout = await api.client.post("/api/auth/staff/logout", headers=staff)
    assert logout.status_code == 204
    problem(
        await api.client.post("/api/redemptions/validate", json={"code": "x"}, headers=staff),
        401,
        "not_authenticated",
    )
    other = await api.staff()
    api.clock.advance(timedelta(hours=12, seconds=1))
    problem(
        await api.client.post("/api/redemptions/validate", json={"code": "x"}, headers=other),
        401,
        "not_authenticated",
    )


async def test_staff_login_refuses_wrong_password_and_throttles(api: Api) -> None:
    store = await api.store()
    marketer = await api.marketer()
    created = await api.client.post(
        "/api/staff",
        json={"username": "till.one", "password": "a long password", "store_id": store},
        headers=marketer,
    )
    assert created.status_code == 201
    for _ in range(10):
        response = await api.client.post(
            "/api/auth/staff/login", json={"username": "till.one", "password": "wrong password"}
        )
        problem(response, 401, "invalid_credentials")
    throttled = await api.client.post(
        "/api/auth/staff/login", json={"username": "till.one", "password": "a long password"}
    )
    problem(throttled, 429, "too_many_attempts")
    assert int(throttled.headers["retry-after"]) > 0
    api.clock.advance(timedelta(minutes=5))
    ok = await api.client.post(
        "/api/auth/staff/login", json={"username": "till.one", "password": "a long password"}
    )
    assert ok.status_code == 200


async def test_erasure_revokes_coupons_and_token(api: Api) -> None:
    _, customer = await api.customer()
    campaign = await api.campaign()
    await api.publish(campaign["id"])
    [coupon] = await api.coupons(customer)
    assert (await api.client.delete("/api/me", headers=customer)).status_code == 204
    problem(await api.client.get("/api/me", headers=customer), 401, "not_authenticated")
    staff = await api.staff()
    problem(await api.redeem(staff, coupon["code"]), 404, "invalid_code")


async def test_codes_are_not_stored_in_clear(api: Api) -> None:
    """A copy of the database holds digests only: no redeemable code appears in it."""
    _, customer = await api.customer()
    campaign = await api.campaign()
    await api.publish(campaign["id"])
    [coupon] = await api.coupons(customer)
    rows = await api.sql("SELECT * FROM coupons")
    dump = repr(rows)
    assert coupon["code"] not in dump
    assert coupon["code"].encode() not in b"".join(v for row in rows for v in row if isinstance(v, bytes))


def test_bearer_helper() -> None:
    assert bearer("t") == {"Authorization": "Bearer t"}
