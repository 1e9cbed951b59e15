"""Schemathesis against the app's own OpenAPI document: every operation, as every role.

Each operation gets schema-valid and schema-invalid examples, every one sent with the role's
credential (none for ``anonymous``). Every answer must be below 500, carry a status and a content
type the document declares for that operation, and match the declared schema; schema-invalid
input must be refused and schema-valid input accepted, and every other check Schemathesis has
must hold too (all of them run). Schema-valid input may still break a rule the document cannot
state (one of e-mail or phone, a known time zone, ends_at after starts_at): the server answers
that with 422 ``invalid_value``, never 400, and the repository's ``schemathesis.toml`` (read here
as by the command line) lists 422 among the answers to schema-valid data.
Generation is derandomized, so a run repeats.

No generated input can reach the interpreter's recursion limit: the server refuses a body
nesting deeper than 32 levels before decoding it (``tessera.http.json_nesting``), and every body
schema is closed (``additionalProperties: false``), so generated bodies hold no arbitrary
nested values; the test bounds what it sends at the same depth (:func:`bounded`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation, BaseSchema

from tessera.http.json_nesting import MAX_JSON_DEPTH
from tests.support.api import Api, Headers
from tests.support.contests import contest, enter, printed_codes
from tests.support.in_process_transport import requests_answered_in_process

ROLES = ["anonymous", "customer", "staff", "marketer"]
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 8}
# Operations that end the caller's own session run last, so every other one runs with a live credential.
SESSION_ENDING = {"POST /api/auth/staff/logout", "POST /api/auth/customer/logout", "DELETE /api/me"}
# One operation per role that takes no input: its answers prove the credential was accepted.
PROOF_OF_ROLE = {
    "anonymous": "GET /api/push/vapid-public-key",
    "customer": "GET /api/me/coupons",
    "staff": "GET /api/auth/staff/me",
    "marketer": "GET /api/stores",
}

# The repository's Schemathesis settings: 422 is an answer to schema-valid data.
CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"
Send = Callable[[schemathesis.Case], None]


def depth(value: Any) -> int:
    """How deeply ``value`` nests lists and dicts, counted without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            pending.extend(
                (inner, level + 1) for inner in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


def bounded(case: schemathesis.Case) -> None:
    """Leave out a generated body deeper than the server reads: serializing it could reach the
    interpreter's recursion limit in this process, and the server's answer to such a body (400
    before decoding) is tested in ``test_strict_input``."""
    if depth(case.body) > MAX_JSON_DEPTH:
        reject()


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
        bounded(case)
        send(case)

    try:
        examples()
    except Unsatisfiable:
        # No input breaks the document (no parameters, or a path segment any text may fill).
        if mode is not GenerationMode.NEGATIVE:
            raise


Drawn = list[tuple[APIOperation, GenerationMode, "list[schemathesis.Case] | BaseException"]]
# The examples of each document, drawn once in this process (see ``drawn_examples``).
DRAWN: dict[bytes, Drawn] = {}


def drawn_examples(document: bytes, schema: BaseSchema) -> Drawn:
    """Every operation's examples in each generation mode (or what stopped Hypothesis drawing
    them), in the order they are sent. Drawing from JSON Schema is most of a run's work, and it
    depends on the document alone: generation is derandomized, and neither the role nor the
    store takes part. So the examples are drawn once per process and document (through the very
    ``fuzz`` that would send them, so Hypothesis draws the same ones), and every role on each
    store is sent the same examples."""
    key = hashlib.sha256(document).digest()
    if key not in DRAWN:
        drawn: Drawn = []
        for operation in operations(schema):
            for mode in EXAMPLES:
                cases: list[schemathesis.Case] = []
                try:
                    fuzz(operation, mode, cases.append)
                except (Exception, BaseExceptionGroup) as failure:
                    drawn.append((operation, mode, failure))
                else:
                    drawn.append((operation, mode, cases))
        DRAWN[key] = drawn
    return DRAWN[key]


@pytest.mark.parametrize("role", ROLES)
async def test_every_operation_conforms_to_the_document(api: Api, role: str) -> None:
    roles, seeded = await seed(api)
    headers = roles[role]
    document = await api.client.get("/schema/openapi.json")
    assert document.status_code == 200
    schema = schemathesis.openapi.from_dict(document.json(), config=SchemathesisConfig.from_path(CONFIG))
    for (path, method), answer in seeded.items():
        schema[path][method].validate_response(answer)
    base_url = str(api.client.base_url).rstrip("/")
    answered: Counter[tuple[str, int]] = Counter()

    # Every request, the checks' own included, reaches the app on this test's event loop; the
    # examples run in a worker thread.
    transport = {"base_url": base_url}

    def send(case: schemathesis.Case) -> None:
        # The role's credential is the request's own, as a client would send it; the checks
        # know it (``ignored_auth`` then repeats the request without it, expecting a refusal).
        response = case.call(**transport, headers=headers)
        answered[case.operation.label, response.status_code] += 1
        case.validate_response(response, headers=headers, transport_kwargs=transport)

    def run_all() -> list[str]:
        failures = []
        for operation, mode, examples in drawn_examples(document.content, schema):
            if isinstance(examples, BaseException):
                failures.append(f"{operation.label} ({mode.value}, {role}):\n{examples}")
                continue
            for case in examples:
                try:
                    send(case)
                except (Exception, BaseExceptionGroup) as failure:
                    failures.append(f"{operation.label} ({mode.value}, {role}):\n{failure}")
                    break  # the first failing example of an operation and mode, as Hypothesis stops
        return failures

    with requests_answered_in_process(api.client, asyncio.get_running_loop()):
        failures = await asyncio.to_thread(run_all)
    assert not failures, "\n\n".join(failures)
    # Negative examples of the proof operation may carry a broken credential (401): one 200
    # shows the role's own was accepted.
    proof = {status for (label, status) in answered if label == PROOF_OF_ROLE[role]}
    assert 200 in proof, (proof, answered)
