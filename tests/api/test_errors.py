"""Bad input gets a problem-details answer with a stable code, never a 500, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api import Api, problem
from tests.support.stores import store_independent

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@store_independent
async def test_malformed_json_unknown_fields_and_wrong_types(api: Api) -> None:
    staff = await api.staff()
    raw = await api.client.post(
        "/api/redemptions", content=b"{not json", headers={**staff, "Content-Type": "application/json"}
    )
    problem(raw, 400, "invalid_input")
    problem(await api.client.post("/api/redemptions", json={"code": 5}, headers=staff), 400, "invalid_input")
    problem(
        await api.client.post("/api/redemptions", json={"code": "x", "extra": 1}, headers=staff),
        400,
        "invalid_input",
    )
    problem(await api.client.post("/api/customers", json={"email": "a@b.c"}), 400, "invalid_input")
    problem(
        await api.client.post(
            "/api/customers", json={"email": "nope", "consent": {"terms": True, "marketing": True}}
        ),
        400,
        "invalid_input",
    )


@store_independent
async def test_unknown_route_method_and_oversized_body(api: Api) -> None:
    problem(await api.client.get("/api/nothing-here"), 404, "not_found")
    problem(await api.client.delete("/api/customers"), 405, "method_not_allowed")
    big = await api.client.post(
        "/api/customers", content=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    problem(big, 413, "payload_too_large")


async def test_registration_rules(api: Api) -> None:
    consent = {"terms": True, "marketing": True}
    first = await api.client.post("/api/customers", json={"email": "Dup@Example.com", "consent": consent})
    assert first.status_code == 201
    problem(
        await api.client.post("/api/customers", json={"email": "dup@example.com", "consent": consent}),
        409,
        "customer_exists",
    )
    problem(
        await api.client.post(
            "/api/customers", json={"email": "x@example.com", "consent": {"terms": False, "marketing": True}}
        ),
        422,
        "terms_required",
    )
    problem(await api.client.post("/api/customers", json={"consent": consent}), 422, "invalid_value")
    rows = await api.sql("SELECT purpose, granted FROM consents ORDER BY purpose")
    assert [tuple(r) for r in rows] == [("marketing", True), ("push", False), ("terms", True)]


async def test_consent_changes_are_recorded(api: Api) -> None:
    _, customer = await api.customer()
    response = await api.client.patch("/api/me", json={"consent": {"marketing": False}}, headers=customer)
    assert response.status_code == 200
    assert response.json()["consent"]["marketing"] is False
    rows = await api.sql("SELECT purpose, granted, source FROM consents WHERE source = 'profile'")
    assert [tuple(r) for r in rows] == [("marketing", False, "profile")]
    campaign = await api.campaign()
    assert (await api.publish(campaign["id"]))["issued"] == 0


async def test_campaign_validation(api: Api) -> None:
    marketer = await api.marketer()
    base = {
        "name": "x",
        "discount": {"kind": "percent", "value": 20},
        "starts_at": "2026-06-02T00:00:00Z",
        "ends_at": "2026-06-01T00:00:00Z",
    }
    problem(await api.client.post("/api/campaigns", json=base, headers=marketer), 422, "invalid_value")
    bad_percent = {**base, "ends_at": "2026-07-01T00:00:00Z", "discount": {"kind": "percent", "value": 150}}
    problem(await api.client.post("/api/campaigns", json=bad_percent, headers=marketer), 422, "invalid_value")
    other_currency = {
        **base,
        "ends_at": "2026-07-01T00:00:00Z",
        "discount": {"kind": "amount", "value": 500, "currency": "USD"},
    }
    refused = problem(
        await api.client.post("/api/campaigns", json=other_currency, headers=marketer), 422, "invalid_value"
    )
    assert refused["errors"][0]["key"] == "discount.currency"
    nothing_off = {**base, "ends_at": "2026-07-01T00:00:00Z", "discount": {"kind": "amount", "value": 0}}
    problem(await api.client.post("/api/campaigns", json=nothing_off, headers=marketer), 422, "invalid_value")
    problem(await api.client.get("/api/campaigns/424242", headers=marketer), 404, "campaign_not_found")
    problem(await api.client.get("/api/campaigns?cursor=abc", headers=marketer), 400, "invalid_input")
    problem(await api.client.get("/api/campaigns?limit=100000", headers=marketer), 400, "invalid_input")
    assert (await api.sql("SELECT count(*) FROM campaigns"))[0][0] == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=json_values,
    route=st.sampled_from(
        ["/api/redemptions", "/api/redemptions/validate", "/api/campaigns", "/api/customers", "/api/stores"]
    ),
)
async def test_no_input_produces_a_500(api: Api, body: Any, route: str) -> None:
    if not hasattr(api, "_fuzz_headers"):
        api._fuzz_headers = {"staff": await api.staff(), "marketer": await api.marketer()}  # type: ignore[attr-defined]
    headers = api._fuzz_headers["staff" if "redemptions" in route else "marketer"]  # type: ignore[attr-defined]
    response = await api.client.post(
        route, content=json.dumps(body).encode(), headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"]


async def test_numbers_and_times_beyond_what_is_stored_are_invalid_input(api: Api) -> None:
    """Ids, counts and times the database columns cannot hold are refused before any query: 400
    where the document states the bound (ids, counts), 422 where it cannot (an opaque cursor, a
    time that leaves the years 1 to 9999 once in UTC)."""
    marketer = await api.marketer()
    for url in [
        f"/api/campaigns/{2**31}",
        f"/api/analytics/customers/{2**64}",
        "/api/analytics/channels?campaign_id=3000000000",
        "/api/customers?cursor=%C2%B3",  # "³": a digit to str.isdigit(), not to the pattern
    ]:
        problem(await api.client.get(url, headers=marketer), 400, "invalid_input")
    for url in [
        "/api/campaigns?cursor=3000000000",
        "/api/analytics/channels?since=0001-01-01T00:00:00%2B05:00",
        "/api/analytics/channels?until=9999-12-31T23:59:59-05:00",
    ]:
        problem(await api.client.get(url, headers=marketer), 422, "invalid_value")
    campaign = {
        "name": "x",
        "discount": {"kind": "percent", "value": 5},
        "starts_at": "2026-06-01T00:00:00Z",
        "ends_at": "2026-07-01T00:00:00Z",
    }
    for body in [
        {**campaign, "limits": {"per_customer": 2**40}},
        {**campaign, "limits": {"max_redemptions": 2**31}},
    ]:
        problem(await api.client.post("/api/campaigns", json=body, headers=marketer), 400, "invalid_input")
    for body in [
        {**campaign, "starts_at": "0001-01-01T00:00:00+05:00"},
        {**campaign, "ends_at": "9999-12-31T23:59:59-05:00"},
    ]:
        problem(await api.client.post("/api/campaigns", json=body, headers=marketer), 422, "invalid_value")
    staff = {"username": "big-store", "password": "correct horse battery", "store_id": 2**40}
    problem(await api.client.post("/api/staff", json=staff, headers=marketer), 400, "invalid_input")
    assert (await api.sql("SELECT count(*) FROM campaigns"))[0][0] == 0
    assert (await api.sql("SELECT count(*) FROM staff_users"))[0][0] == 0

    pass_type = api.settings.apple.pass_type_identifier
    problem(
        await api.client.get(
            f"/wallet/apple/v1/passes/{pass_type}/%C2%B2", headers={"Authorization": "ApplePass x"}
        ),
        401,
        "pass_unauthorized",
    )
    beyond_year_9999 = await api.client.get(
        f"/wallet/apple/v1/devices/device-z/registrations/{pass_type}",
        params={"passesUpdatedSince": "9" * 20},
    )
    assert beyond_year_9999.status_code == 204


async def test_json_nested_past_the_decoders_limit_is_invalid_input(api: Api) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    nested_field = b'{"email": "deep@example.com", "attributes": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    staff = await api.staff()
    for route, body, headers in [
        ("/api/customers", deep, {}),
        ("/api/customers", nested_field, {}),
        ("/api/auth/staff/login", deep, {}),
        ("/api/redemptions", deep, staff),
        ("/api/campaigns", deep, await api.marketer()),
    ]:
        response = await api.client.post(
            route, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        problem(response, 400, "invalid_input")
    assert (await api.sql("SELECT count(*) FROM customers"))[0][0] == 0


async def test_text_holding_u0000_is_refused_on_every_store(api: Api) -> None:
    """PostgreSQL cannot store U+0000 in text (SQLite can): both refuse it alike, before any
    query. A backslash written out before "u0000" is ordinary text."""
    consent = {"terms": True, "marketing": True}
    for name in ["Ann\u0000", "\u0000", "a\\\u0000"]:
        body = json.dumps({"email": "nul@example.com", "name": name, "consent": consent}).encode()
        response = await api.client.post(
            "/api/customers", content=body, headers={"Content-Type": "application/json"}
        )
        problem(response, 400, "invalid_input")
    assert (await api.sql("SELECT count(*) FROM customers"))[0][0] == 0
    staff = await api.staff()
    nul_code = await api.client.post("/api/redemptions", json={"code": "AB\u0000CD"}, headers=staff)
    problem(nul_code, 404, "invalid_code")  # like any other malformed code

    literal = json.dumps({"email": "nul@example.com", "name": "C:\\u0000", "consent": consent}).encode()
    assert b"\\\\u0000" in literal
    created = await api.client.post(
        "/api/customers", content=literal, headers={"Content-Type": "application/json"}
    )
    assert created.status_code == 201, created.text
    me = await api.client.get("/api/me", headers={"Authorization": f"Bearer {created.json()['token']}"})
    assert me.json()["name"] == "C:\\u0000"
