"""What the server refuses of loose input, and the one shape of every 400 answer.

400 ``invalid_input`` is a request that does not match the OpenAPI document; 422
``invalid_value`` is one that matches it but breaks a rule the document cannot state. Both name
what is wrong in ``errors``."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api, problem
from tests.support.stores import store_independent

CAMPAIGN = {
    "name": "Strict",
    "discount": {"kind": "percent", "value": 10},
    "starts_at": "2026-06-01T00:00:00Z",
    "ends_at": "2026-07-01T00:00:00Z",
}


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    """The one entry of a 400 (or 422 ``invalid_value``) answer's ``errors``."""
    [entry] = body["errors"]
    assert isinstance(entry["message"], str), body
    assert entry["message"], body
    return dict(entry)


@store_independent
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
        ({**CAMPAIGN, "coupon_valid_days": 7.5}, "coupon_valid_days"),
    ]
    for body, field in loose:
        refused = problem(
            await api.client.post("/api/campaigns", json=body, headers=marketer), 400, "invalid_input"
        )
        assert refusal(refused) | {"message": ""} == {"message": "", "key": field, "source": "body"}, refused
    # A number with no fraction is an integer to JSON Schema, optional fields included.
    whole = await api.client.post(
        "/api/campaigns", json={**CAMPAIGN, "coupon_valid_days": 7.0}, headers=marketer
    )
    assert whole.status_code == 201, whole.text
    assert whole.json()["coupon_valid_days"] == 7
    store = await api.store()
    staff = await api.client.post(
        "/api/staff",
        json={"username": "till-strict", "password": "a long password 1", "store_id": store, "can_void": 1},
        headers=marketer,
    )
    assert refusal(problem(staff, 400, "invalid_input"))["key"] == "can_void"


@store_independent
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
        await api.client.post("/api/campaigns", json=bad_percent, headers=marketer), 422, "invalid_value"
    )
    assert refusal(domain)["key"] == "discount.value"
    assert refusal(domain)["source"] == "body"
    assert "field" not in domain
    cursor = problem(
        await api.client.get("/api/campaigns?cursor=3000000000", headers=marketer), 422, "invalid_value"
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


async def test_a_rule_refuses_with_422_what_the_document_accepts_and_400_is_what_it_does_not(
    api: Api,
) -> None:
    marketer = await api.marketer()
    document = (await api.client.get("/schema/openapi.json")).json()
    create = document["paths"]["/api/campaigns"]["post"]
    assert "invalid_value" in create["responses"]["422"]["description"]
    assert "invalid_input" in create["responses"]["400"]["description"]
    # ends_at before starts_at: every field is what the document says, a rule refuses it.
    backwards = {**CAMPAIGN, "ends_at": "2026-05-01T00:00:00Z"}
    refused = await api.client.post("/api/campaigns", json=backwards, headers=marketer)
    entry = refusal(problem(refused, 422, "invalid_value"))
    assert entry | {"message": ""} == {"message": "", "key": "ends_at", "source": "body"}
    assert "field" not in refused.json()
    # A time that is not a date-time: the document refuses it.
    not_a_time = {**CAMPAIGN, "ends_at": "soon"}
    refused = await api.client.post("/api/campaigns", json=not_a_time, headers=marketer)
    assert refusal(problem(refused, 400, "invalid_input"))["key"] == "ends_at"
    # A cursor is up to ten digits to the document; one past the ids there are is refused by a
    # rule, one that is not digits by the document.
    cursor = await api.client.get("/api/customers?cursor=3000000000", headers=marketer)
    entry = refusal(problem(cursor, 422, "invalid_value"))
    assert entry | {"message": ""} == {"message": "", "key": "cursor", "source": "query"}
    cursor = await api.client.get("/api/customers?cursor=abc", headers=marketer)
    assert refusal(problem(cursor, 400, "invalid_input"))["key"] == "cursor"
    assert (await api.sql("SELECT count(*) FROM campaigns"))[0][0] == 0


@store_independent
async def test_google_callbacks_without_root_keys_are_not_found(api: Api) -> None:
    # No TESSERA_GOOGLE_ROOT_KEYS_PATH here: nothing can verify a callback, so there is no endpoint.
    answer = await api.client.post("/wallet/google/callback", content=b"{}")
    problem(answer, 404, "callbacks_not_configured")
