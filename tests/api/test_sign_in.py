"""Customer sign-in with one-time codes, through HTTP and the outbox to a local message webhook
that checks every signature itself, on SQLite and PostgreSQL: a code signs in once, expires,
belongs to one contact, and its limits hold; logout and erasure revoke tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tessera.core.settings import MessageSettings, Settings, SignInSettings, WorkerSettings
from tests.fakes.messages import FakeMessageWebhook
from tests.support.api import Api, Headers, bearer, problem

WINDOW = 300
SIGN_IN = SignInSettings(
    code_minutes=10,
    window_seconds=WINDOW,
    failures_per_contact=5,
    failures_per_contact_per_day=8,
    failures_per_client=12,
    codes_per_contact=3,
    codes_per_client=12,
)


@pytest.fixture
def settings(settings: Settings, webhook: FakeMessageWebhook) -> Settings:
    return replace(
        settings,
        sign_in=SIGN_IN,
        messages=MessageSettings(webhook_url=webhook.url, webhook_secret=webhook.secret),
        worker=WorkerSettings(
            embedded=True, poll_seconds=0.02, jobs_every_seconds=0.05, max_attempts=3, retry_base_seconds=10
        ),
    )


async def ask_code(api: Api, **contact: str) -> httpx.Response:
    return await api.client.post("/api/auth/customer/code", json=contact)


async def login(api: Api, code: str, **contact: str) -> httpx.Response:
    return await api.client.post("/api/auth/customer/login", json={**contact, "code": code})


async def until(condition: Any, what: str) -> None:
    for _ in range(750):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def received_code(api: Api, webhook: FakeMessageWebhook, to: str, count: int = 1) -> str:
    """Ask for a code for ``to`` (an e-mail address or phone number) and read it at the webhook."""
    contact = {"email": to} if "@" in to else {"phone": to}
    before = len(webhook.messages_to(to))
    assert (await ask_code(api, **contact)).status_code == 202

    async def arrived() -> bool:
        return len(webhook.messages_to(to)) == before + count

    await until(arrived, f"the code for {to}")
    return webhook.code_for(to)


async def signed_in(api: Api, webhook: FakeMessageWebhook, email: str) -> Headers:
    response = await login(api, await received_code(api, webhook, email), email=email)
    assert response.status_code == 200, response.text
    return bearer(response.json()["token"])


async def outbox_rows(api: Api) -> list[Any]:
    return await api.sql(
        "SELECT target, attempts, delivered_at, failed_at, last_error, claimed_until FROM outbox "
        "WHERE topic = 'sign_in_code' ORDER BY id"
    )


async def test_sign_in_end_to_end_gives_a_new_token_for_the_customers_own_coupons(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    anna_id, anna = await api.customer(email="anna@example.com", locale="it-IT")
    bela_id, bela = await api.customer(email=None, phone="+3930000001")
    await api.publish((await api.campaign(name="Pizza night"))["id"])
    annas_coupons = await api.coupons(anna)
    assert len(annas_coupons) == 1

    answer = await ask_code(api, email="Anna@Example.com")
    assert answer.status_code == 202, answer.text
    assert answer.json()["channel"] == "email"
    assert answer.json()["expires_in_seconds"] == 600
    await until(lambda: _has(webhook, "anna@example.com"), "Anna's message")
    (message,) = webhook.messages_to("anna@example.com")
    code = webhook.code_for("anna@example.com")
    assert message["channel"] == "email"
    assert message["kind"] == "sign_in_code"
    assert message["locale"] == "it"
    assert message["subject"] == "Il tuo codice di accesso a Tessera"
    assert f"Il tuo codice di accesso è {code}." in message["text"]
    (headers,) = webhook.headers
    assert headers["x-tessera-message-id"] == message["id"]
    assert webhook.refused == []
    # Nothing in the database holds the code: only its keyed digest and a nonce.
    stored = await api.sql("SELECT payload FROM outbox WHERE topic = 'sign_in_code'")
    stored += await api.sql("SELECT code_digest FROM customer_sign_in_codes")
    assert code not in repr(stored)

    signed = await login(api, code, email="anna@example.com")
    assert signed.status_code == 200, signed.text
    assert signed.json()["customer_id"] == anna_id
    new_device = bearer(signed.json()["token"])
    assert signed.json()["token"].startswith("tsc_")
    assert await api.coupons(new_device) == annas_coupons
    assert (await api.client.get("/api/me", headers=new_device)).json()["id"] == anna_id
    assert await api.coupons(anna) == annas_coupons  # the first device stays signed in
    problem(await login(api, code, email="anna@example.com"), 401, "invalid_sign_in_code")  # once

    # Béla's code comes by SMS; it opens Béla's account and never Anna's.
    bela_code = await received_code(api, webhook, "+3930000001")
    (sms,) = webhook.messages_to("+3930000001")
    assert sms["channel"] == "sms"
    assert sms["locale"] == "en"
    assert sms["text"].endswith(f"\n\n@127.0.0.1 #{bela_code}")
    problem(await login(api, bela_code, email="anna@example.com"), 401, "invalid_sign_in_code")
    bela_signed = await login(api, f"{bela_code[:3]} {bela_code[3:]}", phone="+3930000001")
    assert bela_signed.status_code == 200, bela_signed.text
    assert bela_signed.json()["customer_id"] == bela_id
    bela_device = bearer(bela_signed.json()["token"])
    assert await api.coupons(bela_device) == await api.coupons(bela)
    assert {coupon["id"] for coupon in await api.coupons(bela_device)}.isdisjoint(
        coupon["id"] for coupon in annas_coupons
    )
    events = await api.sql("SELECT customer_id, channel FROM events WHERE type = 'signed_in' ORDER BY id")
    assert [tuple(row) for row in events] == [(anna_id, "email"), (bela_id, "sms")]


async def _has(webhook: FakeMessageWebhook, to: str) -> bool:
    return bool(webhook.messages_to(to))


async def test_the_receiver_refuses_a_message_whose_signature_does_not_match(
    webhook: FakeMessageWebhook,
) -> None:
    """The fake checks for real: a body signed with another secret, or changed, is refused."""
    body = json.dumps({"to": "x@example.com", "text": "123456"}).encode()
    good = "sha256=" + hmac.new(webhook.secret.encode(), body, hashlib.sha256).hexdigest()
    other = "sha256=" + hmac.new(b"another secret", body, hashlib.sha256).hexdigest()
    async with httpx.AsyncClient() as client:
        for signature, content in ((other, body), (good, body + b" "), (good, body)):
            await client.post(webhook.url, content=content, headers={"x-tessera-signature": signature})
    assert webhook.refused == [other, good]
    assert len(webhook.received) == 1


async def test_registered_and_unknown_contacts_get_the_same_answer(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    await api.customer(email="known@example.com", phone="+3930000002")
    _, erased = await api.customer(email="erased@example.com")
    assert (await api.client.delete("/api/me", headers=erased)).status_code == 204

    known = await ask_code(api, email="known@example.com")
    for contact in ({"email": "stranger@example.com"}, {"email": "erased@example.com"}):
        unknown = await ask_code(api, **contact)
        assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
        assert unknown.headers["content-type"] == known.headers["content-type"]
    by_phone = await ask_code(api, phone="+3930000002")
    unknown_phone = await ask_code(api, phone="+3999999999")
    assert (by_phone.status_code, by_phone.json()) == (unknown_phone.status_code, unknown_phone.json())
    assert by_phone.json()["channel"] == "sms"

    # Only the registered customer's requests left a code and a message behind.
    await until(lambda: _has(webhook, "+3930000002"), "the SMS")
    assert [row.target for row in await outbox_rows(api)] == ["1", "1"]
    assert await api.sql("SELECT count(*) FROM customer_sign_in_codes") == [(2,)]
    assert {message["to"] for message in webhook.received} <= {"known@example.com", "+3930000002"}
    problem(await login(api, "000000", email="stranger@example.com"), 401, "invalid_sign_in_code")


async def test_a_code_signs_in_once_under_concurrent_attempts(api: Api, webhook: FakeMessageWebhook) -> None:
    await api.customer(email="race@example.com")
    code = await received_code(api, webhook, "race@example.com")
    answers = await asyncio.gather(*(login(api, code, email="race@example.com") for _ in range(5)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 401, 401, 401, 401], [answer.text for answer in answers]
    assert await api.sql("SELECT count(*) FROM customer_sessions") == [(1,)]


async def test_a_code_expires_and_a_new_code_replaces_the_old_one(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    await api.customer(email="late@example.com")
    first = await received_code(api, webhook, "late@example.com")
    api.clock.advance(timedelta(minutes=10))
    problem(await login(api, first, email="late@example.com"), 401, "invalid_sign_in_code")

    older = await received_code(api, webhook, "late@example.com")
    newer = await received_code(api, webhook, "late@example.com")
    problem(await login(api, older, email="late@example.com"), 401, "invalid_sign_in_code")
    assert (await login(api, newer, email="late@example.com")).status_code == 200


async def test_spent_failure_budget_refuses_even_the_right_code_until_the_window_ends(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    await api.customer(email="target@example.com")
    code = await received_code(api, webhook, "target@example.com")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(SIGN_IN.failures_per_contact):
        problem(await login(api, wrong, email="target@example.com"), 401, "invalid_sign_in_code")
    refused = await login(api, code, email="target@example.com")
    body = problem(refused, 429, "too_many_attempts")
    assert refused.headers["retry-after"] == str(body["retry_after"]) == str(WINDOW)
    # Another customer signing in from the same client address is not held back.
    await api.customer(email="bystander@example.com")
    bystander = await received_code(api, webhook, "bystander@example.com")
    assert (await login(api, bystander, email="bystander@example.com")).status_code == 200

    api.clock.advance(timedelta(seconds=int(body["retry_after"])))
    signed = await login(api, code, email="target@example.com")
    assert signed.status_code == 200, signed.text


async def test_a_contact_has_a_daily_budget_of_failures_too(api: Api, webhook: FakeMessageWebhook) -> None:
    """A patient guesser who waits out each window still meets the day's budget."""
    await api.customer(email="patient@example.com")
    code = await received_code(api, webhook, "patient@example.com")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(SIGN_IN.failures_per_contact):
        problem(await login(api, wrong, email="patient@example.com"), 401, "invalid_sign_in_code")
    api.clock.advance(timedelta(seconds=WINDOW))
    for _ in range(SIGN_IN.failures_per_contact_per_day - SIGN_IN.failures_per_contact):
        problem(await login(api, wrong, email="patient@example.com"), 401, "invalid_sign_in_code")
    refused = await login(api, code, email="patient@example.com")
    body = problem(refused, 429, "too_many_attempts")
    # The day's budget holds until midnight UTC: the clock started at noon, one window ago.
    assert int(refused.headers["retry-after"]) == body["retry_after"] == 12 * 3600 - WINDOW
    api.clock.advance(timedelta(seconds=WINDOW))  # a new window, the same day
    problem(await login(api, code, email="patient@example.com"), 429, "too_many_attempts")

    api.clock.advance(timedelta(seconds=body["retry_after"]))
    fresh = await received_code(api, webhook, "patient@example.com")
    assert (await login(api, fresh, email="patient@example.com")).status_code == 200


async def test_failed_sign_ins_from_one_client_address_have_a_budget(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    await api.customer(email="victim@example.com")
    code = await received_code(api, webhook, "victim@example.com")
    # Guesses spread over many contacts, each below its own budget.
    for number in range(SIGN_IN.failures_per_client):
        contact = f"guess{number // 4}@example.com"
        problem(await login(api, "123456", email=contact), 401, "invalid_sign_in_code")
    problem(await login(api, code, email="victim@example.com"), 429, "too_many_attempts")


async def test_code_requests_are_limited_per_contact_and_per_client_address(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    await api.customer(email="inbox@example.com")
    for contact in ("inbox@example.com", "nobody@example.com"):  # registered or not, alike
        for _ in range(SIGN_IN.codes_per_contact):
            assert (await ask_code(api, email=contact)).status_code == 202
        refused = await ask_code(api, email=contact)
        body = problem(refused, 429, "too_many_attempts")
        assert refused.headers["retry-after"] == str(body["retry_after"])
    await until(lambda: _all_settled(api), "the deliveries")
    assert len(webhook.messages_to("inbox@example.com")) <= SIGN_IN.codes_per_contact

    spent = 2 * (SIGN_IN.codes_per_contact + 1)
    for number in range(SIGN_IN.codes_per_client - spent):
        assert (await ask_code(api, email=f"other{number}@example.com")).status_code == 202
    problem(await ask_code(api, email="fresh@example.com"), 429, "too_many_attempts")

    api.clock.advance(timedelta(seconds=WINDOW))
    assert (await ask_code(api, email="inbox@example.com")).status_code == 202


async def _all_settled(api: Api) -> bool:
    return all(row.delivered_at is not None or row.failed_at is not None for row in await outbox_rows(api))


async def test_logout_revokes_the_calling_token_only(api: Api, webhook: FakeMessageWebhook) -> None:
    _, registered = await api.customer(email="leaving@example.com")
    device = await signed_in(api, webhook, "leaving@example.com")
    assert (await api.client.post("/api/auth/customer/logout", headers=device)).status_code == 204
    problem(await api.client.get("/api/me/coupons", headers=device), 401, "not_authenticated")
    assert (await api.client.get("/api/me", headers=registered)).status_code == 200
    assert (await api.client.post("/api/auth/customer/logout", headers=registered)).status_code == 204
    problem(await api.client.get("/api/me", headers=registered), 401, "not_authenticated")
    problem(await api.client.post("/api/auth/customer/logout"), 401, "not_authenticated")
    # Signing in again works: the customer is not locked out by signing out.
    again = await signed_in(api, webhook, "leaving@example.com")
    assert (await api.client.get("/api/me", headers=again)).status_code == 200


async def test_erasure_revokes_every_token_and_code(api: Api, webhook: FakeMessageWebhook) -> None:
    _, registered = await api.customer(email="gone@example.com")
    phone = await signed_in(api, webhook, "gone@example.com")
    laptop = await signed_in(api, webhook, "gone@example.com")
    for headers in (registered, phone, laptop):
        assert (await api.client.get("/api/me", headers=headers)).status_code == 200
    assert (await ask_code(api, email="gone@example.com")).status_code == 202
    assert (await api.client.delete("/api/me", headers=phone)).status_code == 204
    for headers in (registered, phone, laptop):
        problem(await api.client.get("/api/me", headers=headers), 401, "not_authenticated")
    assert await api.sql("SELECT count(*) FROM customer_sign_in_codes") == [(0,)]
    revoked = await api.sql("SELECT count(*) FROM customer_sessions WHERE revoked_at IS NULL")
    assert revoked == [(0,)]
    before = len(await outbox_rows(api))
    api.clock.advance(timedelta(seconds=WINDOW))  # past the contact's budget of code requests
    assert (await ask_code(api, email="gone@example.com")).status_code == 202
    assert len(await outbox_rows(api)) == before


async def test_delivery_is_retried_on_5xx_then_given_up_with_the_reason(
    api: Api, webhook: FakeMessageWebhook
) -> None:
    await api.customer(email="flaky@example.com")
    webhook.failing = 503
    assert (await ask_code(api, email="flaky@example.com")).status_code == 202
    for attempt, wait in ((1, 0), (2, 13), (3, 25)):
        api.clock.advance(timedelta(seconds=wait))
        await until(lambda expected=attempt: _attempts(api, expected), f"attempt {attempt}")
    ((_, attempts, delivered_at, failed_at, last_error, _),) = await outbox_rows(api)
    assert (attempts, delivered_at) == (3, None)
    assert failed_at is not None
    assert last_error == "gave up after 3 attempts: message webhook answered 503"
    assert webhook.failed == 3
    assert webhook.received == []

    # A passing failure: the next attempt delivers, once.
    webhook.failing = 500
    assert (await ask_code(api, email="flaky@example.com")).status_code == 202
    await until(lambda: _attempts(api, 1), "the first try")
    webhook.failing = None
    api.clock.advance(timedelta(seconds=13))
    await until(lambda: _has(webhook, "flaky@example.com"), "the retried message")
    assert len(webhook.messages_to("flaky@example.com")) == 1
    code = webhook.code_for("flaky@example.com")
    assert (await login(api, code, email="flaky@example.com")).status_code == 200


async def _attempts(api: Api, expected: int) -> bool:
    """Whether the latest sign-in message has had ``expected`` attempts, the last one recorded."""
    rows = await outbox_rows(api)
    return bool(rows[-1].attempts == expected and rows[-1].claimed_until is None)


async def test_a_code_that_expires_before_delivery_is_given_up(api: Api, webhook: FakeMessageWebhook) -> None:
    await api.customer(email="slow@example.com")
    webhook.failing = 503
    assert (await ask_code(api, email="slow@example.com")).status_code == 202
    await until(lambda: _attempts(api, 1), "the first try")
    webhook.failing = None
    api.clock.advance(timedelta(minutes=SIGN_IN.code_minutes))
    await until(lambda: _all_settled(api), "the outcome")
    ((_, attempts, _, failed_at, last_error, _),) = await outbox_rows(api)
    assert (attempts, failed_at is not None) == (2, True)
    assert last_error == "the sign-in code expired or was replaced before it could be delivered"
    assert webhook.received == []


async def test_contact_and_code_are_checked(api: Api) -> None:
    problem(await ask_code(api), 422, "invalid_value")
    problem(
        await api.client.post(
            "/api/auth/customer/code", json={"email": "a@example.com", "phone": "+3930000003"}
        ),
        422,
        "invalid_value",
    )
    problem(await ask_code(api, email="not-an-address"), 400, "invalid_input")
    problem(await login(api, "12345", email="a@example.com"), 401, "invalid_sign_in_code")
    problem(await login(api, "abcdef", email="a@example.com"), 401, "invalid_sign_in_code")
    problem(await login(api, "", email="a@example.com"), 400, "invalid_input")


async def test_spent_codes_are_deleted_a_day_after_they_end(api: Api, webhook: FakeMessageWebhook) -> None:
    await api.customer(email="tidy@example.com")
    await received_code(api, webhook, "tidy@example.com")
    api.clock.advance(timedelta(hours=12))
    await asyncio.sleep(0.2)  # several runs of the periodic jobs: the code ended only 12 hours ago
    assert await api.sql("SELECT count(*) FROM customer_sign_in_codes") == [(1,)]
    api.clock.advance(timedelta(hours=12, minutes=SIGN_IN.code_minutes, seconds=1))

    async def gone() -> bool:
        return await api.sql("SELECT count(*) FROM customer_sign_in_codes") == [(0,)]

    await until(gone, "the periodic job")
