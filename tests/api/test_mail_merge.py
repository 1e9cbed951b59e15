"""Mail merges through HTTP: per-message codes for e-mail and SMS, streamed as NDJSON, and the
campaign slugs their templates name."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import jsonschema_rs

from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import parse
from tessera.idempotency.service import request_hash
from tests.support.api import Api, Headers, problem
from tests.support.fixed_values import TEST_SECRET
from tests.support.mail_merge import (
    NDJSON,
    TEMPLATE,
    lines_of,
    merge,
    merge_body,
    published_spring_campaign,
    seed_customers,
)

BIG = 10_000
SAMPLE = 200


async def line_validator(api: Api) -> jsonschema_rs.Validator:
    """The documented schema of one streamed line, from the app's own OpenAPI document."""
    document = (await api.client.get("/schema/openapi.json")).json()
    operation = document["paths"]["/api/mail-merges"]["post"]
    schema = operation["responses"]["200"]["content"][NDJSON]["schema"]
    return jsonschema_rs.validator_for({**schema, "components": document["components"]})


async def test_ten_thousand_recipients_get_distinct_redeemable_codes_once(api: Api) -> None:
    # Published before anyone registers: publishing issued nothing.
    campaign = await published_spring_campaign(api)
    customers = await seed_customers(api, BIG)
    recipients = [{"customer_id": customer_id} for customer_id in customers]
    first = await merge(api, recipients)
    lines = lines_of(first)
    validate = await line_validator(api)
    for line in lines:
        validate.validate(line)
    *messages, end = lines
    assert end == {"type": "end", "recipients": BIG, "messages": BIG, "problems": 0, "issued": BIG}
    assert [m["type"] for m in messages] == ["message"] * BIG
    assert [m["index"] for m in messages] == list(range(BIG))
    assert [m["customer_id"] for m in messages] == customers
    assert [m["recipient"] for m in messages] == recipients

    coupons = [m["coupons"][0] for m in messages]
    codes = [c["code"] for c in coupons]
    assert len(set(codes)) == BIG
    assert len({c["coupon_id"] for c in coupons}) == BIG
    for message, coupon in zip(messages, coupons, strict=True):
        assert parse(coupon["code"]).code == coupon["code"]  # the one code parser
        assert parse(coupon["code_display"], typed=True).code == coupon["code"]
        assert coupon["slug"] == "spring-20"
        assert coupon["campaign_id"] == campaign["id"]
        number = message["customer_id"] - customers[0]
        assert message["to"] == f"bulk{number}@example.com"
        assert message["subject"] == f"Reader {number}, your code {coupon['code_display']}"
        assert message["body"] == (
            f"Hi Reader {number}! Code {coupon['code_display']} · {coupon['coupon_url']} · "
            f"{coupon['wallet_link']}"
        )

    # Every code is the digest of one live e-mail coupon of its recipient, and nothing else was issued.
    keys = CodeKeys(TEST_SECRET)
    stored = await api.sql(
        "SELECT code_digest, customer_id, channel, origin FROM coupons "
        "WHERE campaign_id = :c AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > :now",
        c=campaign["id"],
        now=api.clock.now(),
    )
    assert len(stored) == BIG
    by_digest = {bytes(row[0]): tuple(row[1:]) for row in stored}
    assert {keys.digest(code) for code in codes} == set(by_digest)
    for message, code in zip(messages, codes, strict=True):
        assert by_digest[keys.digest(code)] == (message["customer_id"], "email", "message:june-newsletter")

    # A sample redeems exactly once.
    staff = await api.staff()
    sample = random.Random(8).sample(codes, SAMPLE)
    for code in sample:
        redeemed = await api.redeem(staff, code)
        assert redeemed.status_code == 201, redeemed.text
        assert redeemed.json()["channel"] == "email"
    problem(await api.redeem(staff, sample[0]), 409, "already_redeemed")
    problem(await api.redeem(staff, sample[-1]), 409, "already_redeemed")

    analytics = await api.client.get(
        "/api/analytics/channels", params={"campaign_id": campaign["id"]}, headers=await api.marketer()
    )
    rows = {row["key"]: row for row in analytics.json()["rows"]}
    assert rows["email"]["issued"] == BIG
    assert rows["email"]["redeemed"] == SAMPLE
    assert sum(row["issued"] for row in rows.values()) == BIG

    # The same request again: the same lines byte for byte, nothing issued.
    again = await merge(api, recipients)
    assert again.text.splitlines()[:-1] == first.text.splitlines()[:-1]
    assert json.loads(again.text.splitlines()[-1])["issued"] == 0
    assert (await api.sql("SELECT count(*) FROM coupons"))[0][0] == BIG
    assert (await api.sql("SELECT count(*) FROM events WHERE type = 'issued'"))[0][0] == BIG

    # Another message: new codes.
    other = lines_of(await merge(api, recipients[:100], message_id="july-newsletter"))
    fresh = [m["coupons"][0]["code"] for m in other[:-1]]
    assert len(set(fresh)) == 100
    assert not set(fresh) & set(codes)
    assert other[-1]["issued"] == 100


async def test_recipients_by_email_or_phone_and_the_ones_who_get_no_message(api: Api) -> None:
    await published_spring_campaign(api)
    a_id, _ = await api.customer(tags=["newsletter"], name="Ada <Lovelace>")
    b_id, _ = await api.customer(tags=["newsletter"], email=None, phone="+393331234567", name="Bea")
    c_id, _ = await api.customer(tags=["newsletter"], marketing=False)
    d_id, _ = await api.customer(tags=["other"])
    e_id, erased = await api.customer(tags=["newsletter"])
    assert (await api.client.delete("/api/me", headers=erased)).status_code == 204
    [a_email] = [row[0] for row in await api.sql("SELECT email FROM customers WHERE id = :i", i=a_id)]

    recipients: list[dict[str, Any]] = [
        {"email": a_email.upper()},
        {"phone": "+393331234567"},
        {"customer_id": c_id},
        {"customer_id": d_id},
        {"customer_id": e_id},
        {"customer_id": 999_999},
        {"email": "nobody@example.com"},
        {"customer_id": a_id},
    ]
    lines = lines_of(await merge(api, recipients, template={**TEMPLATE, "format": "html"}))
    validate = await line_validator(api)
    for line in lines:
        validate.validate(line)
    ada, bea, *refused, ada_again, end = lines
    assert ada["type"] == "message"
    assert ada["customer_id"] == a_id
    assert ada["to"] == a_email
    assert ada["recipient"] == {"email": a_email.upper()}
    assert ada["subject"].startswith("Ada &lt;Lovelace&gt;, your code ")
    assert ada_again["coupons"] == ada["coupons"]  # one code per (campaign, recipient, message)
    expected = [
        ("no_address", b_id, 422),
        ("no_marketing_consent", c_id, 422),
        ("not_in_segment", d_id, 422),
        ("unknown_recipient", None, 404),
        ("unknown_recipient", None, 404),
        ("unknown_recipient", None, 404),
    ]
    assert [(line["type"], line["index"]) for line in [bea, *refused]] == [
        ("problem", i) for i in range(1, 7)
    ]
    for line, (code, customer_id, status) in zip([bea, *refused], expected, strict=True):
        assert line["customer_id"] == customer_id
        assert line["problem"]["code"] == code
        assert line["problem"]["status"] == status
        assert line["problem"]["type"] == f"urn:tessera:problem:{code}"
        assert line["problem"]["title"]
        assert line["problem"]["detail"]
    assert refused[1]["problem"]["campaign"] == "spring-20"
    assert "campaign" not in refused[0]["problem"]
    assert end == {"type": "end", "recipients": 8, "messages": 2, "problems": 6, "issued": 1}

    # The same list as SMS: Bea has a phone, Ada (registered by e-mail) has none.
    sms = lines_of(await merge(api, recipients[:2], channel="sms", template={"body": "{{coupon:spring-20}}"}))
    assert sms[0]["problem"]["code"] == "no_address"
    assert sms[1]["to"] == "+393331234567"
    assert sms[1]["subject"] is None
    assert sms[1]["body"] == sms[1]["coupons"][0]["code_display"]
    channels = await api.sql(
        "SELECT customer_id, channel FROM coupons WHERE origin = 'message:june-newsletter'"
    )
    assert sorted(map(tuple, channels)) == sorted([(a_id, "email"), (b_id, "sms")])


async def test_a_campaign_that_is_not_running_gets_problem_lines(api: Api) -> None:
    draft = await api.campaign(slug="later")
    customer_id, _ = await api.customer()
    [line, _] = lines_of(
        await merge(api, [{"customer_id": customer_id}], template={"body": "{{coupon:later}}"})
    )
    assert line["problem"]["code"] == "campaign_not_running"
    assert line["problem"]["campaign"] == "later"

    await api.publish(draft["id"])
    [issued, _] = lines_of(
        await merge(api, [{"customer_id": customer_id}], template={"body": "{{coupon:later}}"})
    )
    assert issued["type"] == "message"
    api.clock.advance(timedelta(days=31))  # the campaign has ended
    [ended, end] = lines_of(
        await merge(api, [{"customer_id": customer_id}], template={"body": "{{coupon:later}}"})
    )
    assert ended["problem"]["code"] == "campaign_not_running"
    assert end["issued"] == 0


async def test_two_campaigns_in_one_template(api: Api) -> None:
    await published_spring_campaign(api)
    await api.campaign(slug="coffee", code={"format": "ean13"})
    await api.publish(
        (await api.client.get("/api/campaigns", headers=await api.marketer())).json()["items"][1]["id"]
    )
    customer_id, customer = await api.customer(tags=["newsletter"])
    body = "{{coupon:spring-20}} and {{coupon:coffee}} ({{coupon_url:coffee}})"
    [line, end] = lines_of(await merge(api, [{"customer_id": customer_id}], template={"body": body}))
    spring_coupon, coffee = line["coupons"]
    assert (spring_coupon["slug"], coffee["slug"]) == ("spring-20", "coffee")
    assert coffee["code"] == coffee["code_display"]
    assert parse(coffee["code"]).format == "ean13"
    assert line["body"] == f"{spring_coupon['code_display']} and {coffee['code']} ({coffee['coupon_url']})"
    assert coffee["coupon_url"] == f"{api.settings.public_url}/#coupon-{coffee['coupon_id']}"
    assert end["issued"] == 2
    # Both are the customer's own coupons in the app.
    mine = {c["id"]: c for c in await api.coupons(customer)}
    assert mine[coffee["coupon_id"]]["code"] == coffee["code"]
    assert mine[spring_coupon["coupon_id"]]["channel"] == "email"


async def test_problems_of_the_request_come_before_anything_is_issued(api: Api) -> None:
    await published_spring_campaign(api)
    customer_id, _ = await api.customer(tags=["newsletter"])
    one = [{"customer_id": customer_id}]
    unknown = problem(
        await merge(api, one, template={"body": "{{coupon:spring-20}} {{coupom:spring-20}}"}),
        422,
        "invalid_template",
    )
    assert unknown["placeholder"] == "{{coupom:spring-20}}"
    assert unknown["errors"][0]["key"] == "template.body"
    problem(await merge(api, one, template={"body": "{{coupon:Spring-20}}"}), 422, "invalid_template")
    problem(
        await merge(api, one, template={"subject": "{{name", "body": "{{total}}"}), 422, "invalid_template"
    )
    problem(await merge(api, one, template={"body": "Hello {{name}}"}), 422, "invalid_template")
    missing = problem(await merge(api, one, template={"body": "{{coupon:autumn}}"}), 422, "unknown_campaign")
    assert missing["slugs"] == ["autumn"]
    both = problem(
        await merge(api, [{"customer_id": customer_id, "email": "x@example.com"}]), 422, "invalid_value"
    )
    assert both["errors"][0]["key"] == "recipients[0]"
    problem(await merge(api, []), 400, "invalid_input")
    problem(await merge(api, one, channel="fax"), 400, "invalid_input")
    assert (await api.sql("SELECT count(*) FROM coupons WHERE channel = 'email'"))[0][0] == 0


async def test_idempotency_key_guards_the_stream(api: Api) -> None:
    await published_spring_campaign(api)
    customer_id, _ = await api.customer(tags=["newsletter"])
    one = [{"customer_id": customer_id}]
    first = await merge(api, one, key="mm-1")
    assert "Idempotent-Replayed" not in first.headers
    replay = await merge(api, one, key="mm-1")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.text.splitlines()[0] == first.text.splitlines()[0]
    problem(await merge(api, one, key="mm-1", message_id="other"), 422, "idempotency_key_reused")
    stored = await api.sql("SELECT status, body FROM idempotency_keys WHERE key = 'mm-1'")
    assert stored[0][0] == 200
    assert json.loads(bytes(stored[0][1]))["issued"] == 1

    # A first request still streaming (its reservation made, not completed): a repeat waits.
    [(scope,)] = await api.sql("SELECT scope FROM idempotency_keys WHERE key = 'mm-1'")
    await api.sql(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at) "
        "VALUES (:scope, 'mm-2', :h, NULL, NULL, :now)",
        scope=scope,
        h=request_hash("POST", "/api/mail-merges", merge_body(one)),
        now=api.clock.now(),
    )
    problem(await merge(api, one, key="mm-2"), 409, "request_in_progress")


async def test_campaign_slugs(api: Api) -> None:
    marketer: Headers = await api.marketer()
    first = await api.campaign(name="Café Crème 20%")
    second = await api.campaign(name="Cafe creme 20")
    third = await api.campaign(name="🎉")
    assert (first["slug"], second["slug"], third["slug"]) == ("cafe-creme-20", "cafe-creme-20-2", "campaign")
    chosen = await api.campaign(slug="summer")
    assert chosen["slug"] == "summer"
    taken = await api.client.post(
        "/api/campaigns", json={**_campaign_body(api), "slug": "summer"}, headers=marketer
    )
    problem(taken, 409, "slug_taken")
    bad = await api.client.post(
        "/api/campaigns", json={**_campaign_body(api), "slug": "Not OK"}, headers=marketer
    )
    problem(bad, 400, "invalid_input")
    renamed = await api.client.patch(
        f"/api/campaigns/{first['id']}", json={"slug": "autumn"}, headers=marketer
    )
    assert renamed.status_code == 200
    assert renamed.json()["slug"] == "autumn"
    clash = await api.client.patch(
        f"/api/campaigns/{second['id']}", json={"slug": "summer"}, headers=marketer
    )
    problem(clash, 409, "slug_taken")
    same = await api.client.patch(f"/api/campaigns/{chosen['id']}", json={"slug": "summer"}, headers=marketer)
    assert same.status_code == 200
    listed = (await api.client.get("/api/campaigns", headers=marketer)).json()["items"]
    assert Counter(c["slug"] for c in listed) == Counter(["autumn", "cafe-creme-20-2", "campaign", "summer"])


def _campaign_body(api: Api) -> dict[str, Any]:
    now = api.clock.now()
    return {
        "name": "Summer",
        "discount": {"kind": "percent", "value": 10},
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=10)).isoformat(),
    }


async def test_long_lists_fit_in_one_request(api: Api) -> None:
    await published_spring_campaign(api)
    # 40,000 addresses are over the 1 MiB every other request may send, under this route's limit.
    unknown = [{"email": f"someone.with.a.long.name.{i}@example.com"} for i in range(40_000)]
    assert len(merge_body(unknown)) > 1024 * 1024
    *lines, end = lines_of(await merge(api, unknown))
    assert len(lines) == 40_000
    assert {line["problem"]["code"] for line in lines} == {"unknown_recipient"}
    assert end["problems"] == 40_000
    problem(await merge(api, [{"customer_id": 1}] * 100_001), 400, "invalid_input")
    huge = [{"email": f"{'x' * 300}.{i}@example.com"} for i in range(30_000)]
    assert len(merge_body(huge)) > 8 * 1024 * 1024
    problem(await merge(api, huge), 413, "payload_too_large")
