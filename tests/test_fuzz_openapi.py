"""Schemathesis against the app's own OpenAPI document: every operation, as every role.

Each operation gets schema-valid and schema-invalid examples, every one sent with the role's
credential (none for ``anonymous``). Every answer must be below 500, carry a status and a content
type the document declares for that operation, and match the declared schema. Generation is
derandomized, so a run repeats.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation, BaseSchema

from tests.contest_support import contest, enter, printed_codes
from tests.support import Api, Headers

ROLES = ["anonymous", "customer", "staff", "marketer"]
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 8}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Operations that end the caller's own session run last, so every other one runs with a live credential.
SESSION_ENDING = {"POST /api/auth/staff/logout", "POST /api/auth/customer/logout", "DELETE /api/me"}
# One operation per role that takes no input: its answers prove the credential was accepted.
PROOF_OF_ROLE = {
    "anonymous": "GET /api/push/vapid-public-key",
    "customer": "GET /api/me/coupons",
    "staff": "GET /api/auth/staff/me",
    "marketer": "GET /api/stores",
}

Send = Callable[[schemathesis.Case], httpx.Response]


async def seed(api: Api) -> tuple[dict[str, Headers], dict[tuple[str, str], httpx.Response]]:
    """One credential per role, and something behind small ids for the generated paths to find:
    a store, a campaign published to a customer, a redemption and its void, a points contest
    with printed codes and one entry, an instant win. Also the answers no generated example can
    reach (it would need a redeemable code), by operation."""
    store = await api.store()
    staff = await api.staff(store)
    _, customer = await api.customer(tags=["vip"], attributes={"city": "Pécs"})
    campaign = await api.campaign()
    await api.publish(campaign["id"])
    [coupon] = await api.coupons(customer)
    redeemed = await api.redeem(staff, coupon["code"], key="fuzz-seed")
    assert redeemed.status_code == 201, redeemed.text
    voided = await api.client.post(f"/api/redemptions/{redeemed.json()['id']}/void", headers=staff)
    assert voided.status_code == 200, voided.text
    points = await contest(api)
    rows = await printed_codes(api, points["id"], 2, product="Cola", points=3)
    entered = await enter(api, points["id"], customer, rows[0]["code"])
    assert entered.status_code == 201, entered.text
    await contest(api, kind="instant_win", pool_size=10, prizes=[{"name": "Pen", "count": 5, "value": 100}])
    roles = {"anonymous": {}, "customer": customer, "staff": staff, "marketer": await api.marketer()}
    return roles, {
        ("/api/redemptions", "POST"): redeemed,
        ("/api/redemptions/{redemption_id}/void", "POST"): voided,
        ("/api/contests/{contest_id}/entries", "POST"): entered,
    }


def operations(schema: BaseSchema) -> list[APIOperation]:
    results = list(schema.get_all_operations())
    unreadable = [result for result in results if not isinstance(result, Ok)]
    assert not unreadable, unreadable
    found = [result.ok() for result in results if isinstance(result, Ok)]
    assert {operation.label for operation in found} >= SESSION_ENDING
    return sorted(found, key=lambda operation: operation.label in SESSION_ENDING)


def fuzz(operation: APIOperation, mode: GenerationMode, send: Send) -> None:
    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        # Generating request bodies from JSON Schema is slow and filters; the app under test is
        # the subject here, not the strategies.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        print_blob=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def examples(case: schemathesis.Case) -> None:
        case.validate_response(send(case), checks=CHECKS)

    examples()


@pytest.mark.parametrize("role", ROLES)
async def test_every_operation_conforms_to_the_document(api: Api, role: str) -> None:
    roles, seeded = await seed(api)
    headers = roles[role]
    document = await api.client.get("/schema/openapi.json")
    assert document.status_code == 200
    schema = schemathesis.openapi.from_dict(document.json())
    for (path, method), answer in seeded.items():
        schema[path][method].validate_response(answer)
    loop = asyncio.get_running_loop()
    base_url = str(api.client.base_url).rstrip("/")
    answered: Counter[tuple[str, int]] = Counter()

    async def request(case: schemathesis.Case) -> httpx.Response:
        # requests serializes the case exactly as Schemathesis would put it on the wire.
        prepared = requests.Request(**case.as_transport_kwargs(base_url=base_url)).prepare()
        sent = {name: value for name, value in prepared.headers.items() if name.lower() != "authorization"}
        response = await api.client.request(
            str(prepared.method), str(prepared.url), headers={**sent, **headers}, content=prepared.body
        )
        answered[case.operation.label, response.status_code] += 1
        return response

    def send(case: schemathesis.Case) -> httpx.Response:
        # The app runs on this test's event loop; the examples run in a worker thread.
        return asyncio.run_coroutine_threadsafe(request(case), loop).result()

    def run_all() -> list[str]:
        failures = []
        for operation in operations(schema):
            for mode in EXAMPLES:
                try:
                    fuzz(operation, mode, send)
                except (Exception, BaseExceptionGroup) as failure:
                    failures.append(f"{operation.label} ({mode.value}, {role}):\n{failure}")
        return failures

    failures = await asyncio.to_thread(run_all)
    assert not failures, "\n\n".join(failures)
    proof = {status for (label, status) in answered if label == PROOF_OF_ROLE[role]}
    assert proof == {200}, answered
