"""The OpenAPI document says what the server does: who may call, what input is refused, the one
shape of a 400, every method of a path, and a description and examples for the operations."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs
import pytest

from tests.support.api import Api, problem
from tests.support.stores import store_independent

Document = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
PUBLIC = {
    ("get", "/health"),
    ("post", "/api/customers"),
    ("post", "/api/auth/staff/login"),
    ("post", "/api/auth/customer/code"),
    ("post", "/api/auth/customer/login"),
    ("post", "/api/sms/inbound"),
    ("post", "/api/messages/receipts"),
    ("get", "/api/push/vapid-public-key"),
    ("get", "/api/contests"),
    ("get", "/api/contests/{contest_id}"),
    ("get", "/api/contests/{contest_id}/leaderboard"),
    ("get", "/api/contests/{contest_id}/draw"),
    ("post", "/wallet/google/callback"),
    ("get", "/wallet/links/{token}"),
    ("get", "/wallet/links/{token}/pass.pkpass"),
    ("get", "/wallet/links/{token}/google-wallet"),
    ("get", "/unsubscribe/{token}"),
    ("post", "/unsubscribe/{token}"),
    ("get", "/wallet/apple/v1/devices/{device_id}/registrations/{pass_type}"),
    ("post", "/wallet/apple/v1/log"),
}
APPLE_PASS = {
    ("get", "/wallet/apple/v1/passes/{pass_type}/{serial}"),
    ("post", "/wallet/apple/v1/devices/{device_id}/registrations/{pass_type}/{serial}"),
    ("delete", "/wallet/apple/v1/devices/{device_id}/registrations/{pass_type}/{serial}"),
}
# Apple's own protocol: its devices may add fields, so these bodies stay open.
OPEN_BODIES = {"Registration", "DeviceLog"}
# How the paragraph the document adds to every description (who may call, the input rules) begins.
AUTOMATIC = ("Public: no credential", "Called by Apple Wallet", "Bearer token of:")


@pytest.fixture
async def document(api: Api) -> Document:
    answer = await api.client.get("/schema/openapi.json")
    assert answer.status_code == 200
    body: Document = answer.json()
    return body


def operations(document: Document) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def resolve(document: Document, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def validator(document: Document, schema: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    root = {**schema, "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(root)


@store_independent
async def test_every_operation_states_its_security_derived_from_its_guards(document: Document) -> None:
    assert "security" not in document, "no global requirement for operations to inherit"
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["ApplePass"] == {
        **schemes["ApplePass"],
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
    }
    for method, path, operation in operations(document):
        where = f"{method.upper()} {path}"
        assert "security" in operation, f"{where} states no security"
        if (method, path) in PUBLIC:
            assert operation["security"] == [], where
        elif (method, path) in APPLE_PASS:
            assert operation["security"] == [{"ApplePass": []}], where
        else:
            [requirement] = operation["security"]
            roles = requirement["bearer"]
            assert roles, where
            # The summary names the role too; both come from the same guard.
            assert all(role in {"customer", "staff", "marketer", "admin"} for role in roles), where


async def test_public_operations_answer_without_a_credential(api: Api, document: Document) -> None:
    for method, path, operation in operations(document):
        if operation["security"] != [] or method != "get" or "{" in path:
            continue
        answer = await api.client.get(path)
        assert answer.status_code not in (401, 403), f"{path}: {answer.status_code}"


@store_independent
async def test_request_bodies_refuse_unknown_fields_in_the_document(document: Document) -> None:
    schemas = document["components"]["schemas"]
    seen: set[str] = set()

    def closed(schema: dict[str, Any]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name in seen:
                return
            seen.add(name)
            target = schemas[name]
            if "properties" in target and name not in OPEN_BODIES:
                assert target.get("additionalProperties") is False, f"{name} accepts unknown fields"
            closed(target)
            return
        for inner in [
            *schema.get("properties", {}).values(),
            *schema.get("oneOf", []),
            *schema.get("anyOf", []),
        ]:
            closed(inner)
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                closed(schema[key])

    for _, _, operation in operations(document):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            closed(media["schema"])
    assert {"CampaignCreate", "RedeemInput", "CustomerCreate", "MailMergeCreate"} <= seen


@store_independent
async def test_integer_bounds_are_integers(document: Document) -> None:
    text = json.dumps(document)
    assert not re.search(r'"(maximum|minimum|exclusiveMaximum|exclusiveMinimum)": -?[0-9.]+e', text)
    assert '"maximum": 9223372036854775807' in text
    void = document["paths"]["/api/redemptions/{redemption_id}/void"]["post"]
    [redemption_id] = [p for p in void["parameters"] if p["name"] == "redemption_id"]
    assert redemption_id["schema"]["maximum"] == 2**63 - 1
    assert isinstance(redemption_id["schema"]["minimum"], int)


@store_independent
async def test_descriptions_state_the_input_rules(document: Document) -> None:
    for method, path, operation in operations(document):
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("description"), where
        if any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert "other than the ones listed here are refused with 400" in operation["description"], where
        else:
            assert "takes no query parameters" in operation["description"], where
        if "requestBody" in operation:
            assert "read strictly" in operation["description"], where
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and "integer" in json.dumps(parameter["schema"]):
                assert "Decimal digits" in parameter["description"], f"{where} {parameter['name']}"


@store_independent
async def test_every_400_is_documented_with_the_one_validation_shape(document: Document) -> None:
    shape = resolve(document, {"$ref": "#/components/schemas/InvalidInputProblem"})
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(shape["properties"])
    entry = resolve(document, shape["properties"]["errors"]["items"])
    assert {"message", "key", "source"} == set(entry["properties"])
    for method, path, operation in operations(document):
        if "400" in operation["responses"]:
            [media] = operation["responses"]["400"]["content"].values()
            assert media["schema"] == {"$ref": "#/components/schemas/InvalidInputProblem"}, f"{method} {path}"


async def test_400_answers_match_their_documented_schema(api: Api, document: Document) -> None:
    check = validator(document, {"$ref": "#/components/schemas/InvalidInputProblem"})
    marketer = await api.marketer()
    answers = [
        await api.client.get("/api/campaigns?status=running", headers=marketer),
        await api.client.get("/api/campaigns?cursor=x", headers=marketer),
        await api.client.post("/api/campaigns", json={"name": 1}, headers=marketer),
        await api.client.post(
            "/api/customers", json={"email": "a@b.c", "consent": {"terms": 1, "marketing": True}}
        ),
    ]
    for answer in answers:
        check.validate(problem(answer, 400, "invalid_input"))


def is_json(media_type: str) -> bool:
    """JSON, and JSON lines (a mail merge's stream, whose schema is one line's)."""
    return media_type.split(";")[0].strip().endswith("json")


@store_independent
async def test_every_operation_has_a_description_of_its_own(document: Document) -> None:
    for method, path, operation in operations(document):
        where = f"{method.upper()} {path}"
        own, _, rules = operation["description"].rpartition("\n\n")
        assert rules.startswith(AUTOMATIC), where
        # What the operation does, its effects and refusals, not only the automatic paragraph.
        assert len(own) >= 40, where
        assert not own.startswith(AUTOMATIC), where


@store_independent
async def test_json_bodies_and_success_answers_have_examples_that_match_their_schemas(
    document: Document,
) -> None:
    missing = []
    for method, path, operation in operations(document):
        where = f"{method.upper()} {path}"
        bodies = [
            ("request", media_type, media)
            for media_type, media in operation.get("requestBody", {}).get("content", {}).items()
        ]
        answers = [
            (status, media_type, media)
            for status, response in operation["responses"].items()
            if status.startswith("2")
            for media_type, media in (response.get("content") or {}).items()
        ]
        for status, media_type, media in [*bodies, *answers]:
            if not is_json(media_type):
                # Passes, QR codes, pages and CSV files: the answer's description says what they are.
                assert operation["responses"][status]["description"].startswith(f"`{media_type}`"), where
                continue
            examples = media.get("examples", {}).values()
            if not examples:
                missing.append(f"{where} {status} {media_type}")
            for example in examples:
                validator(document, media["schema"]).validate(example["value"])
    assert missing == []


@store_independent
async def test_options_and_405_list_every_method_of_the_path(api: Api) -> None:
    expected = {
        "/api/campaigns/1": "GET, OPTIONS, PATCH",
        "/api/campaigns": "GET, OPTIONS, POST",
        "/api/me": "DELETE, GET, OPTIONS, PATCH",
        "/api/contests/1/draw": "GET, OPTIONS, POST",
    }
    for url, allow in expected.items():
        # A preflight carries no credential and needs none: the methods are in the document.
        answer = await api.client.options(url)
        assert answer.status_code == 204, answer.text
        assert answer.headers["allow"] == allow, url
        assert answer.content == b""
        refused = await api.client.put(url, headers=await api.marketer())
        problem(refused, 405, "method_not_allowed")
        assert sorted(refused.headers["allow"].split(", ")) == allow.split(", "), url
    problem(await api.client.options("/api/nothing-here"), 404, "not_found")
