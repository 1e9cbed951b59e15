"""What the server refuses of loose input, and the one shape of every 400 answer."""

from __future__ import annotations

from typing import Any

from tests.support import Api, problem

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
