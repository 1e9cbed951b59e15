"""What the server refuses of loose input, and the one shape of every 400 answer."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api, problem

CAMPAIGN = {
    "name": "Strict",
    "discount": {"kind": "percent", "value": 10},
    "starts_at": "2026-06-01T00:00:00Z",
    "ends_at": "2026-07-01T00:00:00Z",
}


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    """The one entry of a 400 answer's ``errors``."""
    [entry] = body["errors"]
    assert isinstance(entry["message"], str), body
    assert entry["message"], body
    return dict(entry)


async def test_a_body_nesting_deeper_than_any_request_is_refused_before_decoding(api: Api) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    refused = await api.client.post(
        "/api/customers", content=deep, headers={"Content-Type": "application/json"}
    )
    body = problem(refused, 400, "invalid_input")
    assert "nests deeper" in refusal(body)["message"]
    # Brackets inside strings are text, not nesting.
    shallow = await api.client.post(
        "/api/customers", json={"email": "[" * 40 + "@example.com", "consent": {"terms": True}}
    )
    assert "nests deeper" not in shallow.text


async def test_body_values_are_not_coerced(api: Api) -> None:
    marketer = await api.marketer()
    loose = [
        ({**CAMPAIGN, "discount": {"kind": "percent", "value": "10"}}, "discount.value"),
        ({**CAMPAIGN, "starts_at": 1780272000}, "starts_at"),
        ({**CAMPAIGN, "coupon_valid_days": 7.0}, "coupon_valid_days"),
    ]
    for body, field in loose:
        refused = problem(
            await api.client.post("/api/campaigns", json=body, headers=marketer), 400, "invalid_input"
        )
        assert refusal(refused) | {"message": ""} == {"message": "", "key": field, "source": "body"}, refused
    store = await api.store()
    staff = await api.client.post(
        "/api/staff",
        json={"username": "till-strict", "password": "a long password 1", "store_id": store, "can_void": 1},
        headers=marketer,
    )
    assert refusal(problem(staff, 400, "invalid_input"))["key"] == "can_void"


async def test_unknown_body_fields_name_the_field(api: Api) -> None:
    refused = await api.client.post(
        "/api/campaigns", json={**CAMPAIGN, "colour": "red"}, headers=await api.marketer()
    )
    entry = refusal(problem(refused, 400, "invalid_input"))
    assert "colour" in entry["message"]
    assert entry["source"] == "body"


async def test_domain_refusals_have_the_same_shape_as_decoding_refusals(api: Api) -> None:
    marketer = await api.marketer()
    bad_percent = {**CAMPAIGN, "discount": {"kind": "percent", "value": 120}}
    domain = problem(
        await api.client.post("/api/campaigns", json=bad_percent, headers=marketer), 400, "invalid_input"
    )
    assert refusal(domain)["key"] == "discount.value"
    assert refusal(domain)["source"] == "body"
    assert "field" not in domain
    cursor = problem(
        await api.client.get("/api/campaigns?cursor=abc", headers=marketer), 400, "invalid_input"
    )
    assert refusal(cursor) | {"message": ""} == {"message": "", "key": "cursor", "source": "query"}


async def test_query_parameters_a_route_does_not_declare_are_refused_by_name(api: Api) -> None:
    marketer = await api.marketer()
    filtered = await api.client.get("/api/campaigns?status=running&limit=5", headers=marketer)
    entry = refusal(problem(filtered, 400, "invalid_input"))
    assert entry | {"message": ""} == {"message": "", "key": "status", "source": "query"}
    assert (await api.client.get("/api/campaigns?limit=5", headers=marketer)).status_code == 200
    # The redemption fast path hands a request with a query to the framework, which refuses it.
    staff = await api.staff()
    redeemed = await api.client.post("/api/redemptions?dry_run=1", json={"code": "x"}, headers=staff)
    assert refusal(problem(redeemed, 400, "invalid_input"))["key"] == "dry_run"


async def test_times_in_the_query_are_rfc_3339_text_never_numbers(api: Api) -> None:
    marketer = await api.marketer()
    refused = await api.client.get("/api/analytics/campaigns?until=2026", headers=marketer)
    assert refusal(problem(refused, 400, "invalid_input"))["key"] == "until"
    answered = await api.client.get("/api/analytics/campaigns?until=2026-01-01T00:00:00Z", headers=marketer)
    assert answered.status_code == 200, answered.text


async def test_a_one_value_query_parameter_given_twice_is_refused(api: Api) -> None:
    _, customer = await api.customer()
    twice = await api.client.delete(
        "/api/me/push-subscriptions?endpoint=https://push.example/a&endpoint=https://push.example/b",
        headers=customer,
    )
    entry = refusal(problem(twice, 400, "invalid_input"))
    assert (entry["key"], entry["source"]) == ("endpoint", "query")
    marketer = await api.marketer()
    refused = await api.client.get("/api/campaigns?limit=5&limit=6", headers=marketer)
    assert refusal(problem(refused, 400, "invalid_input"))["key"] == "limit"


async def test_a_number_with_no_fraction_is_an_integer_and_one_with_a_fraction_is_not(api: Api) -> None:
    marketer = await api.marketer()
    created = await api.client.post("/api/stores", json={"name": "Whole", "id_hint": 1}, headers=marketer)
    assert created.status_code == 400  # unknown fields stay refused
    store = (await api.client.post("/api/stores", json={"name": "Whole"}, headers=marketer)).json()["id"]
    staff = await api.client.post(
        "/api/staff",
        json={"username": "whole.number", "password": "a-long-password-1", "store_id": float(store)},
        headers=marketer,
    )
    assert staff.status_code == 201, staff.text
    fraction = await api.client.post(
        "/api/staff",
        json={"username": "half.number", "password": "a-long-password-1", "store_id": store + 0.5},
        headers=marketer,
    )
    assert refusal(problem(fraction, 400, "invalid_input"))["key"] == "store_id"
