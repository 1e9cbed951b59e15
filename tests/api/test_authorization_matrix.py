"""Authorization matrix: every route of the application, every kind of caller, and the answer
each caller gets.

The routes come from the application itself: a route that has no row in ``EXPECTED`` (or a row
whose route no longer exists) fails ``test_the_matrix_names_every_route``, so no endpoint ships
without stating who may call it. Every request uses real identifiers and valid bodies from one
small world built through the HTTP API, so an answer reflects who asks, not what is asked.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import secrets
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import Response
from litestar import Litestar
from litestar.routes import HTTPRoute

from tessera.codes.keys import CodeKeys
from tessera.core.settings import Settings, SmsSettings
from tessera.customers.unsubscribe import UnsubscribeLinks
from tessera.signin.keys import SignInKeys
from tests.fakes.google_signing import GoogleSigner
from tests.fakes.push import Subscriber
from tests.support.api import Api, Headers, bearer, iso, problem
from tests.support.contests import contest as contest_of
from tests.support.contests import printed_codes
from tests.support.fixed_values import START
from tests.support.sms import INBOUND_SECRET, inbound
from tests.support.sms import signature as sms_signature

SMS = inbound("+36301110000", "HELP", gateway_id="matrix-1")
SENT = json.dumps({"message_id": "matrix-message-1", "kind": "sms_help"})
RECEIPT = json.dumps({"message_id": "matrix-message-1", "status": "delivered"}).encode()
# The callers, in the order of the table's columns.
ROLES = (
    "anonymous",
    "customer_a",
    "customer_b",
    "staff_1",  # staff of store 1
    "staff_2",  # staff of store 2
    "marketer",
    "wrong_key",  # a well-formed API key that was never issued
    "pass_a",  # Authorization: ApplePass <the token of customer A's pass>
    "pass_b",  # Authorization: ApplePass <the token of customer B's pass>
)

# (method, route as the application names it[, case]) → the status each caller gets, by ROLES.
# Path parameters are customer A's coupon, store 1 and its redemption, A's Apple pass, ...
# Rows run top to bottom, rows that end something for the others (a customer's erasure, a pass's
# unregistration) last. Within a row the refused callers go first, so each refusal meets the
# state before any allowed caller changed it (store 2 tries to void a redemption still standing).
Key = tuple[str, ...]
# fmt: off
EXPECTED: dict[Key, tuple[int, ...]] = {
    #                                                          anon   A    B  st1  st2  mkt  key  pA   pB
    # Public: the same answer whoever asks.
    ("GET", "/health"):                                        (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/api/customers"):                                (201, 201, 201, 201, 201, 201, 201, 201, 201),
    ("POST", "/api/auth/staff/login"):                         (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/api/auth/customer/code"):                       (202, 202, 202, 202, 202, 202, 202, 202, 202),
    ("POST", "/api/auth/customer/login"):                      (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/push/vapid-public-key"):                     (200, 200, 200, 200, 200, 200, 200, 200, 200),
    # Customers, on themselves.
    ("GET", "/api/me"):                                        (401, 200, 200, 403, 403, 403, 401, 401, 401),
    ("PATCH", "/api/me"):                                      (401, 200, 200, 403, 403, 403, 401, 401, 401),
    ("GET", "/api/me/coupons"):                                (401, 200, 200, 403, 403, 403, 401, 401, 401),
    ("POST", "/api/me/push-subscriptions"):                    (401, 201, 201, 403, 403, 403, 401, 401, 401),
    # Each customer's own member card: there is no path to anyone else's.
    ("GET", "/api/me/card"):                                   (401, 200, 200, 403, 403, 403, 401, 401, 401),
    ("GET", "/api/me/card/pass.pkpass"):                       (401, 200, 200, 403, 403, 403, 401, 401, 401),
    ("GET", "/api/me/card/google-wallet"):                     (401, 200, 200, 403, 403, 403, 401, 401, 401),
    # Customer A's coupon: its owner only; anyone else's customer token finds nothing.
    ("GET", "/api/coupons/{coupon_id:int}/qr.svg"):            (401, 200, 404, 403, 403, 403, 401, 401, 401),
    ("GET", "/api/coupons/{coupon_id:int}/pass.pkpass"):       (401, 200, 404, 403, 403, 403, 401, 401, 401),
    ("GET", "/api/coupons/{coupon_id:int}/google-wallet"):     (401, 200, 404, 403, 403, 403, 401, 401, 401),
    # Staff: any store validates and redeems; only the store that redeemed may void.
    ("GET", "/api/auth/staff/me"):                             (401, 403, 403, 200, 200, 403, 401, 401, 401),
    ("POST", "/api/redemptions/validate"):                     (401, 403, 403, 200, 200, 403, 401, 401, 401),
    ("POST", "/api/redemptions"):                              (401, 403, 403, 201, 201, 403, 401, 401, 401),
    ("POST", "/api/redemptions/{redemption_id:int}/void"):     (401, 403, 403, 200, 404, 403, 401, 401, 401),
    ("POST", "/api/auth/staff/logout"):                        (401, 403, 403, 204, 204, 403, 401, 401, 401),
    ("POST", "/api/auth/customer/logout"):                     (401, 204, 204, 403, 403, 403, 401, 401, 401),
    # Any store's staff look up customer A's member card.
    ("POST", "/api/members/lookup"):                           (401, 403, 403, 200, 200, 403, 401, 401, 401),
    # Marketer.
    ("GET", "/api/customers"):                                 (401, 403, 403, 403, 403, 200, 401, 401, 401),
    # The audit trail is the admin's (tests/api/test_audit.py signs in as one).
    ("GET", "/api/audit"):                                     (401, 403, 403, 403, 403, 403, 401, 401, 401),
    ("GET", "/api/customers/{customer_id:int}"):               (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("PATCH", "/api/customers/{customer_id:int}"):             (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/stores"):                                    (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("POST", "/api/stores"):                                   (401, 403, 403, 403, 403, 201, 401, 401, 401),
    ("PATCH", "/api/stores/{store_id:int}"):                   (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("POST", "/api/staff"):                                    (401, 403, 403, 403, 403, 201, 401, 401, 401),
    ("GET", "/api/staff"):                                     (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("PATCH", "/api/staff/{staff_id:int}"):                    (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/campaigns"):                                 (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("POST", "/api/campaigns"):                                (401, 403, 403, 403, 403, 201, 401, 401, 401),
    ("GET", "/api/campaigns/{campaign_id:int}"):               (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("PATCH", "/api/campaigns/{campaign_id:int}"):             (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("POST", "/api/campaigns/{campaign_id:int}/publish"):      (401, 403, 403, 403, 403, 202, 401, 401, 401),
    ("GET", "/api/campaigns/{campaign_id:int}/publish-jobs/{job_id:int}"):
                                                               (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/campaigns/{campaign_id:int}/audience"):     (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("POST", "/api/campaigns/{campaign_id:int}/coupons"):      (401, 403, 403, 403, 403, 201, 401, 401, 401),
    ("POST", "/api/campaigns/{campaign_id:int}/codes"):        (401, 403, 403, 403, 403, 202, 401, 401, 401),
    ("POST", "/api/mail-merges"):                              (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("POST", "/api/mail-merges", "deliver"):                   (401, 403, 403, 403, 403, 202, 401, 401, 401),
    ("GET", "/api/mail-merges/{merge_id:int}"):                (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/campaigns/{campaign_id:int}/codes"):         (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/campaigns/{campaign_id:int}/codes/batches/{batch_id:int}"):
                                                               (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/analytics/channels"):                        (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/analytics/channels.csv"):                    (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/analytics/campaigns"):                       (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/analytics/stores"):                          (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/analytics/daily"):                           (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/analytics/customers/{customer_id:int}"):     (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/analytics/redemptions.csv"):                 (401, 403, 403, 403, 403, 200, 401, 401, 401),
    # Contests: marketers run them, customers enter codes, anyone reads them and their draws.
    ("POST", "/api/contests"):                                 (401, 403, 403, 403, 403, 201, 401, 401, 401),
    ("GET", "/api/contests/{contest_id:int}/report"):          (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("POST", "/api/contests/{contest_id:int}/codes"):          (401, 403, 403, 403, 403, 202, 401, 401, 401),
    ("GET", "/api/contests/{contest_id:int}/codes"):           (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/contests/{contest_id:int}/codes/batches/{batch_id:int}"):
                                                               (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("POST", "/api/contests/{contest_id:int}/entries"):        (401, 201, 201, 403, 403, 403, 401, 401, 401),
    ("POST", "/api/contests/{contest_id:int}/close"):          (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("POST", "/api/contests/{contest_id:int}/draw"):           (401, 403, 403, 403, 403, 200, 401, 401, 401),
    ("GET", "/api/contests"):                                  (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/contests/{contest_id:int}"):                 (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/contests/{contest_id:int}/leaderboard"):     (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/contests/{contest_id:int}/draw"):            (200, 200, 200, 200, 200, 200, 200, 200, 200),
    # Apple's web service: the pass's own token, never a bearer token or another pass's token.
    ("POST", "/wallet/apple/v1/devices/{device_id:str}/registrations/{pass_type:str}/{serial:str}"):
                                                               (401, 401, 401, 401, 401, 401, 401, 201, 401),
    ("GET", "/wallet/apple/v1/passes/{pass_type:str}/{serial:str}"):
                                                               (401, 401, 401, 401, 401, 401, 401, 200, 401),
    # Apple's protocol sends no credential here: a device asks which of its passes changed.
    ("GET", "/wallet/apple/v1/devices/{device_id:str}/registrations/{pass_type:str}"):
                                                               (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/wallet/apple/v1/log"):                          (200, 200, 200, 200, 200, 200, 200, 200, 200),
    # A mail merge's signed wallet link (customer A's coupon): the link is the credential, a
    # bearer token changes nothing; a tampered one opens nothing.
    ("GET", "/wallet/links/{token:str}"):                      (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/wallet/links/{token:str}", "tampered"):          (404, 404, 404, 404, 404, 404, 404, 404, 404),
    ("GET", "/wallet/links/{token:str}/pass.pkpass"):          (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/wallet/links/{token:str}/google-wallet"):        (303, 303, 303, 303, 303, 303, 303, 303, 303),
    # A marketing e-mail's unsubscribe link (customer A's): the link is the credential; a
    # tampered one withdraws nothing.
    ("GET", "/unsubscribe/{token:str}"):                       (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/unsubscribe/{token:str}"):                      (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/unsubscribe/{token:str}", "tampered"):          (404, 404, 404, 404, 404, 404, 404, 404, 404),
    # Google's callback: the signature is the credential, a bearer token changes nothing.
    ("POST", "/wallet/google/callback"):                       (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/wallet/google/callback", "unsigned"):           (403, 403, 403, 403, 403, 403, 403, 403, 403),
    # The SMS gateway: the body's signature is the credential, a bearer token changes nothing.
    ("POST", "/api/sms/inbound"):                              (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/api/sms/inbound", "unsigned"):                  (401, 401, 401, 401, 401, 401, 401, 401, 401),
    # The message gateway's delivery receipts: signed like inbound SMS.
    ("POST", "/api/messages/receipts"):                        (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/api/messages/receipts", "unsigned"):            (401, 401, 401, 401, 401, 401, 401, 401, 401),
    # Pages, their files and the API description: public.
    ("GET", "/"):                                              (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/{file_path:path}"):                              (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("HEAD", "/{file_path:path}"):                             (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/{file_path:path}", "missing"):                   (404, 404, 404, 404, 404, 404, 404, 404, 404),
    ("GET", "/staff"):                                         (308, 308, 308, 308, 308, 308, 308, 308, 308),
    ("GET", "/staff/{file_path:path}"):                        (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("HEAD", "/staff/{file_path:path}"):                       (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/console"):                                       (308, 308, 308, 308, 308, 308, 308, 308, 308),
    ("GET", "/console/{file_path:path}"):                      (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("HEAD", "/console/{file_path:path}"):                     (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/shared/{file_path:path}"):                       (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("HEAD", "/shared/{file_path:path}"):                      (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/static/{file_path:path}"):                       (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("HEAD", "/static/{file_path:path}"):                      (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/schema"):                                        (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/schema/openapi.json"):                           (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/schema/swagger"):                                (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/schema/oauth2-redirect.html"):                   (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/schema/{path:str}"):                             (404, 404, 404, 404, 404, 404, 404, 404, 404),
    # Last: these end something for the rows above.
    ("DELETE", "/wallet/apple/v1/devices/{device_id:str}/registrations/{pass_type:str}/{serial:str}"):
                                                               (401, 401, 401, 401, 401, 401, 401, 200, 401),
    ("DELETE", "/api/me/push-subscriptions"):                  (401, 204, 204, 403, 403, 403, 401, 401, 401),
    ("DELETE", "/api/me"):                                     (401, 204, 204, 403, 403, 403, 401, 401, 401),
}
# fmt: on

PASSWORD = "correct horse battery"
PUSH_TOKEN = "a1" * 32
_unique = itertools.count(1)


def app_routes(app: Litestar) -> set[Key]:
    """Every (method, path) the application answers. OPTIONS is left out: Litestar answers it
    on every path itself, and the matrix test checks that it never gives anything away."""
    found: set[Key] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            found.add(("WEBSOCKET", route.path))
            continue
        for handler in route.route_handlers:
            found.update((method, route.path) for method in handler.http_methods if method != "OPTIONS")
    return found


@dataclass
class World:
    """Two stores with one staff each, customers A and B with a coupon each from one published
    campaign, A's coupon redeemed at store 1, A's pass registered on a device, A's push
    subscription; plus what the rows need to make their requests valid."""

    credentials: dict[str, Headers]
    logins: dict[str, str]  # staff role → username
    store_1: int
    customer_a: int
    customer_b: int
    coupon_a: dict[str, Any]
    coupon_b: dict[str, Any]
    campaign: int
    till_campaign: int  # personal codes for the till, no per-customer limit
    till_customer: int
    batch: int
    publish_job: int
    redemption: int  # of A's coupon, at store 1
    pass_type: str
    serial_a: str  # of A's Apple pass
    endpoint_a: str
    google_callback: bytes
    codes: list[str]  # fresh redeemable codes, one per caller of the redemption row
    sign_ins: list[dict[str, str]]  # {email, code} of a live sign-in code, one per caller
    emails: dict[str, str]  # customer role → e-mail address
    member_card_a: str  # the QR payload of customer A's member card
    wallet_link: str  # path of the signed wallet link of A's coupon from a mail merge
    mail_merge: int  # a mail merge that is sent (deliver: true)
    unsubscribe_link: str  # path of A's unsubscribe link (List-Unsubscribe of marketing e-mail)
    spare_staff: int  # a staff account no caller signs in with
    contest: int  # a running points contest
    contest_batch: int
    contest_codes: list[str]  # fresh printed codes, one per caller of the entries row
    closed_contest: int  # entries closed, for the draw


def pass_data(pkpass: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        data: dict[str, Any] = json.loads(archive.read("pass.json"))
    return data


async def staff_account(api: Api, store_id: int) -> str:
    username = f"till{next(_unique)}.{secrets.token_hex(3)}"
    response = await api.client.post(
        "/api/staff",
        json={"username": username, "password": PASSWORD, "store_id": store_id},
        headers=await api.marketer(),
    )
    assert response.status_code == 201, response.text
    return username


async def spare_staff_account(api: Api, store_id: int) -> int:
    username = await staff_account(api, store_id)
    listed = await api.client.get("/api/staff", headers=await api.marketer())
    (account,) = [item for item in listed.json() if item["username"] == username]
    staff_id: int = account["id"]
    return staff_id


async def login(api: Api, username: str) -> Headers:
    response = await api.client.post(
        "/api/auth/staff/login", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["token"])


async def personal_code(api: Api, campaign_id: int, customer_id: int) -> str:
    response = await api.client.post(
        f"/api/campaigns/{campaign_id}/coupons",
        json={"customer_id": customer_id, "channel": "email", "message_id": f"m{next(_unique)}"},
        headers=await api.marketer(),
    )
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


async def sign_in_code(api: Api, email: str) -> str:
    """Ask for a sign-in code for ``email`` and derive it from its outbox row, as the worker
    would before handing it to the message webhook (tests/test_sign_in.py goes the whole way)."""
    answer = await api.client.post("/api/auth/customer/code", json={"email": email})
    assert answer.status_code == 202, answer.text
    ((payload,),) = await api.sql(
        "SELECT payload FROM outbox WHERE topic = 'sign_in_code' ORDER BY id DESC LIMIT 1"
    )
    nonce = base64.urlsafe_b64decode((json.loads(payload) if isinstance(payload, str) else payload)["nonce"])
    return SignInKeys(api.settings.security.code_secret).code(nonce)


async def customer_session(api: Api, email: str) -> Headers:
    code = await sign_in_code(api, email)
    response = await api.client.post("/api/auth/customer/login", json={"email": email, "code": code})
    assert response.status_code == 200, response.text
    return bearer(response.json()["token"])


async def build_world(api: Api, signer: GoogleSigner, settings: Settings) -> World:
    marketer = await api.marketer()
    store_1, store_2 = await api.store("Store 1"), await api.store("Store 2")
    logins = {"staff_1": await staff_account(api, store_1), "staff_2": await staff_account(api, store_2)}
    customer_a, a = await api.customer()
    customer_b, b = await api.customer()
    campaign = await api.campaign()
    publish_job = (await api.publish(campaign["id"]))["job_id"]
    [coupon_a], [coupon_b] = await api.coupons(a), await api.coupons(b)

    till = await api.campaign(name="Till", limits={"per_customer": None}, segment={"tags_any": ["till"]})
    await api.publish(till["id"])
    till_customer, _ = await api.customer(tags=["till"])
    codes = [await personal_code(api, till["id"], till_customer) for _ in ROLES]
    sign_ins = []
    for _ in ROLES:
        email = f"signin{next(_unique)}@example.com"
        await api.customer(email=email)
        sign_ins.append({"email": email, "code": await sign_in_code(api, email)})
    emails = {
        role: (await api.client.get("/api/me", headers=headers)).json()["email"]
        for role, headers in (("customer_a", a), ("customer_b", b))
    }

    batch = await api.client.post(
        f"/api/campaigns/{campaign['id']}/codes", json={"count": 1, "channel": "print"}, headers=marketer
    )
    assert batch.status_code == 202, batch.text

    contest = await contest_of(api)
    printed = await printed_codes(api, contest["id"], len(ROLES), product="Cola", points=2)
    closed_contest = await contest_of(api, name="Closed")
    closed = await api.client.post(f"/api/contests/{closed_contest['id']}/close", headers=marketer)
    assert closed.status_code == 200, closed.text

    staff_1 = await login(api, logins["staff_1"])
    redeemed = await api.redeem(staff_1, coupon_a["code"])
    assert redeemed.status_code == 201, redeemed.text

    passes: dict[str, dict[str, Any]] = {}
    for name, headers, coupon in (("pass_a", a, coupon_a), ("pass_b", b, coupon_b)):
        download = await api.client.get(coupon["apple_pass_url"], headers=headers)
        assert download.status_code == 200, download.text
        passes[name] = pass_data(download.content)
    pass_a = {"Authorization": f"ApplePass {passes['pass_a']['authenticationToken']}"}
    pass_type, serial_a = passes["pass_a"]["passTypeIdentifier"], passes["pass_a"]["serialNumber"]
    registered = await api.client.post(
        f"/wallet/apple/v1/devices/device-a/registrations/{pass_type}/{serial_a}",
        json={"pushToken": PUSH_TOKEN},
        headers=pass_a,
    )
    assert registered.status_code == 201, registered.text
    assert (await api.client.get(coupon_a["google_wallet_url"], headers=a)).status_code == 200
    member_card_a = await api.client.get("/api/me/card", headers=a)
    assert member_card_a.status_code == 200, member_card_a.text

    subscription = Subscriber(f"a-{secrets.token_hex(4)}").subscription("https://push.example.com")
    subscribed = await api.client.post("/api/me/push-subscriptions", json=subscription, headers=a)
    assert subscribed.status_code == 201, subscribed.text

    merged = await api.client.post(
        "/api/mail-merges",
        json={
            "message_id": "world",
            "channel": "email",
            "template": {"body": "{{wallet_link:" + campaign["slug"] + "}}"},
            "recipients": [{"customer_id": customer_a}],
        },
        headers=marketer,
    )
    assert merged.status_code == 200, merged.text
    wallet_link = json.loads(merged.text.splitlines()[0])["body"].removeprefix(settings.public_url)
    sent = await api.client.post(
        "/api/mail-merges",
        json={
            "message_id": "world-sent",
            "channel": "email",
            "template": {"body": "{{coupon:" + campaign["slug"] + "}}"},
            "recipients": [{"customer_id": customer_a}],
            "deliver": True,
        },
        headers=marketer,
    )
    assert sent.status_code == 202, sent.text

    issuer = settings.google.issuer_id
    message = {
        "classId": f"{issuer}.campaign-{campaign['id']}",
        "objectId": f"{issuer}.coupon-{coupon_a['id']}",
        "eventType": "save",
        "expTimeMillis": str(int((START + timedelta(hours=1)).timestamp() * 1000)),
        "count": "1",
        "nonce": secrets.token_hex(8),
    }
    google_callback = signer.callback_body(
        issuer, message, intermediate_expires_at=START + timedelta(days=30)
    )
    # A message the gateway took, for its delivery receipts.
    at, data = (
        ("'2026-06-01 10:00:00.000000'", "'" + SENT + "'")
        if api.settings.database.url.startswith("sqlite")
        else ("TIMESTAMPTZ '2026-06-01 10:00:00Z'", "CAST('" + SENT + "' AS JSONB)")
    )
    await api.sql(
        "INSERT INTO events (occurred_at, type, channel, customer_id, quantity, data) "  # noqa: S608 (constants)
        f"VALUES ({at}, 'message_sent', 'sms', :customer, 1, {data})",
        customer=customer_a,
    )

    return World(
        credentials={
            "anonymous": {},
            "customer_a": a,
            "customer_b": b,
            "staff_1": staff_1,
            "staff_2": await login(api, logins["staff_2"]),
            "marketer": marketer,
            "wrong_key": bearer("tsk_" + secrets.token_urlsafe(32)),
            "pass_a": pass_a,
            "pass_b": {"Authorization": f"ApplePass {passes['pass_b']['authenticationToken']}"},
        },
        logins=logins,
        store_1=store_1,
        customer_a=customer_a,
        customer_b=customer_b,
        coupon_a=coupon_a,
        coupon_b=coupon_b,
        campaign=campaign["id"],
        till_campaign=till["id"],
        till_customer=till_customer,
        batch=batch.json()["id"],
        publish_job=publish_job,
        redemption=redeemed.json()["id"],
        pass_type=pass_type,
        serial_a=serial_a,
        endpoint_a=subscription["endpoint"],
        google_callback=google_callback,
        codes=codes,
        sign_ins=sign_ins,
        emails=emails,
        member_card_a=member_card_a.json()["qr_payload"],
        wallet_link=wallet_link,
        spare_staff=await spare_staff_account(api, store_1),
        mail_merge=sent.json()["id"],
        unsubscribe_link=UnsubscribeLinks(CodeKeys(settings.security.code_secret), settings.public_url)
        .url(customer_a)
        .removeprefix(settings.public_url),
        contest=contest["id"],
        contest_batch=int(printed[0]["batch_id"]),
        contest_codes=[row["code"] for row in printed],
        closed_contest=closed_contest["id"],
    )


@dataclass(frozen=True)
class Call:
    """How a row calls its route: the URL, and a body made afresh for every caller."""

    url: str
    json: Callable[[], Any] | None = None
    content: bytes | None = None
    headers: Headers | None = None  # sent beside the caller's own
    fresh_staff_session: bool = False  # the call ends the caller's session
    fresh_customer_session: bool = False  # the same, for a customer


def calls(w: World) -> dict[Key, Call]:
    coupon = f"/api/coupons/{w.coupon_a['id']}"
    campaign = f"/api/campaigns/{w.campaign}"
    contest, closed = f"/api/contests/{w.contest}", f"/api/contests/{w.closed_contest}"
    apple = "/wallet/apple/v1"
    registration = f"{apple}/devices/device-b/registrations/{w.pass_type}/{w.serial_a}"
    now = START

    def new_customer() -> dict[str, Any]:
        return {"email": f"new{next(_unique)}@example.com", "consent": {"terms": True, "marketing": True}}

    def new_campaign() -> dict[str, Any]:
        return {
            "name": f"Campaign {next(_unique)}",
            "description": "10% off",
            "discount": {"kind": "percent", "value": 10},
            "starts_at": iso(now),
            "ends_at": iso(now + timedelta(days=30)),
        }

    def new_contest() -> dict[str, Any]:
        return {
            "kind": "points",
            "name": f"Contest {next(_unique)}",
            "starts_at": iso(now),
            "ends_at": iso(now + timedelta(days=30)),
        }

    def new_subscription() -> dict[str, Any]:
        return Subscriber(f"s{next(_unique)}").subscription("https://push.example.com")

    return {
        ("GET", "/health"): Call("/health"),
        ("POST", "/api/customers"): Call("/api/customers", json=new_customer),
        ("POST", "/api/auth/staff/login"): Call(
            "/api/auth/staff/login", json=lambda: {"username": w.logins["staff_1"], "password": PASSWORD}
        ),
        ("POST", "/api/auth/customer/code"): Call(
            "/api/auth/customer/code", json=lambda: {"email": f"who{next(_unique)}@example.com"}
        ),
        ("POST", "/api/auth/customer/login"): Call("/api/auth/customer/login", json=w.sign_ins.pop),
        ("GET", "/api/push/vapid-public-key"): Call("/api/push/vapid-public-key"),
        ("GET", "/api/me"): Call("/api/me"),
        ("PATCH", "/api/me"): Call("/api/me", json=lambda: {"name": "Still me"}),
        ("GET", "/api/me/coupons"): Call("/api/me/coupons"),
        ("POST", "/api/me/push-subscriptions"): Call("/api/me/push-subscriptions", json=new_subscription),
        ("GET", "/api/me/card"): Call("/api/me/card"),
        ("GET", "/api/me/card/pass.pkpass"): Call("/api/me/card/pass.pkpass"),
        ("GET", "/api/me/card/google-wallet"): Call("/api/me/card/google-wallet"),
        ("GET", "/api/coupons/{coupon_id:int}/qr.svg"): Call(f"{coupon}/qr.svg"),
        ("GET", "/api/coupons/{coupon_id:int}/pass.pkpass"): Call(f"{coupon}/pass.pkpass"),
        ("GET", "/api/coupons/{coupon_id:int}/google-wallet"): Call(f"{coupon}/google-wallet"),
        ("GET", "/api/auth/staff/me"): Call("/api/auth/staff/me"),
        ("POST", "/api/redemptions/validate"): Call(
            "/api/redemptions/validate", json=lambda: {"code": w.coupon_b["code"]}
        ),
        ("POST", "/api/redemptions"): Call("/api/redemptions", json=lambda: {"code": w.codes.pop()}),
        ("POST", "/api/redemptions/{redemption_id:int}/void"): Call(f"/api/redemptions/{w.redemption}/void"),
        ("POST", "/api/auth/staff/logout"): Call("/api/auth/staff/logout", fresh_staff_session=True),
        ("POST", "/api/auth/customer/logout"): Call("/api/auth/customer/logout", fresh_customer_session=True),
        ("POST", "/api/members/lookup"): Call("/api/members/lookup", json=lambda: {"code": w.member_card_a}),
        ("GET", "/api/customers"): Call("/api/customers"),
        ("GET", "/api/audit"): Call("/api/audit"),
        ("GET", "/api/customers/{customer_id:int}"): Call(f"/api/customers/{w.customer_b}"),
        ("PATCH", "/api/customers/{customer_id:int}"): Call(
            f"/api/customers/{w.customer_b}", json=lambda: {"attributes": {"tier": "gold"}}
        ),
        ("GET", "/api/stores"): Call("/api/stores"),
        ("POST", "/api/stores"): Call(
            "/api/stores", json=lambda: {"name": f"Store {next(_unique)}", "timezone": "Europe/Rome"}
        ),
        ("PATCH", "/api/stores/{store_id:int}"): Call(
            f"/api/stores/{w.store_1}", json=lambda: {"name": "Store 1"}
        ),
        ("GET", "/api/staff"): Call("/api/staff"),
        # A spare account that no caller uses, disabled (and disabled again: the same answer).
        ("PATCH", "/api/staff/{staff_id:int}"): Call(
            f"/api/staff/{w.spare_staff}", json=lambda: {"disabled": True}
        ),
        ("POST", "/api/staff"): Call(
            "/api/staff",
            json=lambda: {
                "username": f"new.staff{next(_unique)}",
                "password": PASSWORD,
                "store_id": w.store_1,
            },
        ),
        ("GET", "/api/campaigns"): Call("/api/campaigns"),
        ("POST", "/api/campaigns"): Call("/api/campaigns", json=new_campaign),
        ("GET", "/api/campaigns/{campaign_id:int}"): Call(campaign),
        ("PATCH", "/api/campaigns/{campaign_id:int}"): Call(
            campaign, json=lambda: {"description": "20% off everything, still"}
        ),
        ("POST", "/api/campaigns/{campaign_id:int}/publish"): Call(f"{campaign}/publish"),
        ("GET", "/api/campaigns/{campaign_id:int}/publish-jobs/{job_id:int}"): Call(
            f"{campaign}/publish-jobs/{w.publish_job}"
        ),
        ("GET", "/api/campaigns/{campaign_id:int}/audience"): Call(f"{campaign}/audience"),
        ("POST", "/api/campaigns/{campaign_id:int}/coupons"): Call(
            f"/api/campaigns/{w.till_campaign}/coupons",
            json=lambda: {
                "customer_id": w.till_customer,
                "channel": "sms",
                "message_id": f"m{next(_unique)}",
            },
        ),
        ("POST", "/api/campaigns/{campaign_id:int}/codes"): Call(
            f"{campaign}/codes", json=lambda: {"count": 1, "channel": "print"}
        ),
        ("GET", "/api/campaigns/{campaign_id:int}/codes"): Call(f"{campaign}/codes?format=csv"),
        ("POST", "/api/mail-merges"): Call(
            "/api/mail-merges",
            json=lambda: {
                "message_id": f"m{next(_unique)}",
                "channel": "email",
                "template": {"subject": "For {{name}}", "body": "Code {{coupon:spring-20}}"},
                "recipients": [{"customer_id": w.customer_b}],
            },
        ),
        ("POST", "/api/mail-merges", "deliver"): Call(
            "/api/mail-merges",
            json=lambda: {
                "message_id": f"m{next(_unique)}",
                "channel": "sms",
                "template": {"body": "Code {{coupon:spring-20}}"},
                "recipients": [{"customer_id": w.customer_b}],
                "deliver": True,
            },
        ),
        ("GET", "/api/mail-merges/{merge_id:int}"): Call(f"/api/mail-merges/{w.mail_merge}"),
        ("GET", "/api/campaigns/{campaign_id:int}/codes/batches/{batch_id:int}"): Call(
            f"{campaign}/codes/batches/{w.batch}"
        ),
        ("GET", "/api/analytics/channels"): Call(f"/api/analytics/channels?campaign_id={w.campaign}"),
        ("GET", "/api/analytics/channels.csv"): Call("/api/analytics/channels.csv?by=medium"),
        ("GET", "/api/analytics/campaigns"): Call("/api/analytics/campaigns"),
        ("GET", "/api/analytics/stores"): Call("/api/analytics/stores"),
        ("GET", "/api/analytics/daily"): Call("/api/analytics/daily?tz=Europe/Budapest"),
        ("GET", "/api/analytics/customers/{customer_id:int}"): Call(
            f"/api/analytics/customers/{w.customer_a}"
        ),
        ("GET", "/api/analytics/redemptions.csv"): Call("/api/analytics/redemptions.csv"),
        ("POST", "/api/contests"): Call("/api/contests", json=new_contest),
        ("GET", "/api/contests/{contest_id:int}/report"): Call(f"{contest}/report"),
        ("POST", "/api/contests/{contest_id:int}/codes"): Call(
            f"{contest}/codes", json=lambda: {"count": 1, "product": "Water", "points": 1}
        ),
        ("GET", "/api/contests/{contest_id:int}/codes"): Call(f"{contest}/codes?format=csv"),
        ("GET", "/api/contests/{contest_id:int}/codes/batches/{batch_id:int}"): Call(
            f"{contest}/codes/batches/{w.contest_batch}"
        ),
        ("POST", "/api/contests/{contest_id:int}/entries"): Call(
            f"{contest}/entries", json=lambda: {"code": w.contest_codes.pop()}
        ),
        ("POST", "/api/contests/{contest_id:int}/close"): Call(f"{closed}/close"),
        ("POST", "/api/contests/{contest_id:int}/draw"): Call(f"{closed}/draw"),
        ("GET", "/api/contests"): Call("/api/contests"),
        ("GET", "/api/contests/{contest_id:int}"): Call(contest),
        ("GET", "/api/contests/{contest_id:int}/leaderboard"): Call(f"{contest}/leaderboard"),
        ("GET", "/api/contests/{contest_id:int}/draw"): Call(f"{closed}/draw"),
        ("POST", "/wallet/apple/v1/devices/{device_id:str}/registrations/{pass_type:str}/{serial:str}"): Call(
            registration, json=lambda: {"pushToken": PUSH_TOKEN}
        ),
        ("GET", "/wallet/apple/v1/passes/{pass_type:str}/{serial:str}"): Call(
            f"{apple}/passes/{w.pass_type}/{w.serial_a}"
        ),
        ("GET", "/wallet/apple/v1/devices/{device_id:str}/registrations/{pass_type:str}"): Call(
            f"{apple}/devices/device-a/registrations/{w.pass_type}"
        ),
        ("POST", "/wallet/apple/v1/log"): Call(
            f"{apple}/log", json=lambda: {"logs": ["a device said hello"]}
        ),
        ("GET", "/wallet/links/{token:str}"): Call(w.wallet_link),
        ("GET", "/wallet/links/{token:str}", "tampered"): Call(w.wallet_link[:-2] + w.wallet_link[-1:] + "A"),
        ("GET", "/wallet/links/{token:str}/pass.pkpass"): Call(f"{w.wallet_link}/pass.pkpass"),
        ("GET", "/wallet/links/{token:str}/google-wallet"): Call(f"{w.wallet_link}/google-wallet"),
        ("GET", "/unsubscribe/{token:str}"): Call(w.unsubscribe_link),
        ("POST", "/unsubscribe/{token:str}"): Call(w.unsubscribe_link),
        ("POST", "/unsubscribe/{token:str}", "tampered"): Call(
            w.unsubscribe_link[:-1] + ("B" if w.unsubscribe_link.endswith("A") else "A")
        ),
        ("POST", "/wallet/google/callback"): Call("/wallet/google/callback", content=w.google_callback),
        ("POST", "/api/sms/inbound"): Call(
            "/api/sms/inbound", content=SMS, headers={"X-Tessera-Signature": sms_signature(SMS)}
        ),
        ("POST", "/api/sms/inbound", "unsigned"): Call(
            "/api/sms/inbound", content=SMS, headers={"X-Tessera-Signature": sms_signature(b"")}
        ),
        ("POST", "/api/messages/receipts"): Call(
            "/api/messages/receipts", content=RECEIPT, headers={"X-Tessera-Signature": sms_signature(RECEIPT)}
        ),
        ("POST", "/api/messages/receipts", "unsigned"): Call(
            "/api/messages/receipts", content=RECEIPT, headers={"X-Tessera-Signature": sms_signature(b"")}
        ),
        ("POST", "/wallet/google/callback", "unsigned"): Call(
            "/wallet/google/callback", content=w.google_callback.replace(b"save", b"del ")
        ),
        ("GET", "/"): Call("/"),
        ("GET", "/{file_path:path}"): Call("/app.js"),
        ("HEAD", "/{file_path:path}"): Call("/manifest.webmanifest"),
        ("GET", "/{file_path:path}", "missing"): Call("/no-such-file.js"),
        ("GET", "/staff"): Call("/staff"),
        ("GET", "/staff/{file_path:path}"): Call("/staff/app.js"),
        ("HEAD", "/staff/{file_path:path}"): Call("/staff/index.html"),
        ("GET", "/console"): Call("/console"),
        ("GET", "/console/{file_path:path}"): Call("/console/app.js"),
        ("HEAD", "/console/{file_path:path}"): Call("/console/index.html"),
        ("GET", "/shared/{file_path:path}"): Call("/shared/api.js"),
        ("HEAD", "/shared/{file_path:path}"): Call("/shared/base.css"),
        ("GET", "/static/{file_path:path}"): Call("/static/vendor/swagger-ui/swagger-ui.css"),
        ("HEAD", "/static/{file_path:path}"): Call("/static/vendor/swagger-ui/swagger-ui-bundle.js"),
        ("GET", "/schema"): Call("/schema"),
        ("GET", "/schema/openapi.json"): Call("/schema/openapi.json"),
        ("GET", "/schema/swagger"): Call("/schema/swagger"),
        ("GET", "/schema/oauth2-redirect.html"): Call("/schema/oauth2-redirect.html"),
        ("GET", "/schema/{path:str}"): Call("/schema/redoc"),
        (
            "DELETE",
            "/wallet/apple/v1/devices/{device_id:str}/registrations/{pass_type:str}/{serial:str}",
        ): Call(registration),
        ("DELETE", "/api/me/push-subscriptions"): Call("/api/me/push-subscriptions"),
        ("DELETE", "/api/me"): Call("/api/me"),
    }


@pytest.fixture
def signer() -> GoogleSigner:
    return GoogleSigner()


@pytest.fixture
def settings(settings: Settings, signer: GoogleSigner, tmp_path: Path) -> Settings:
    root_keys = signer.write_root_keys(tmp_path / "root-keys.json", START + timedelta(days=365))
    sign_in = replace(settings.sign_in, codes_per_client=1_000, failures_per_client=1_000)
    return replace(
        settings,
        google=replace(settings.google, root_keys_path=root_keys),
        sign_in=sign_in,
        sms=SmsSettings(inbound_secret=INBOUND_SECRET),
    )


def problem_shape(response: Response) -> str | None:
    """What is wrong with an error answer's RFC 9457 shape, or None."""
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return f"content-type {response.headers.get('content-type')!r}"
    body = response.json()
    if body.get("status") != response.status_code or not body.get("title") or not body.get("detail"):
        return f"body {body}"
    code = body.get("code")
    if not isinstance(code, str) or not code or not str(body.get("type", "")).endswith(code):
        return f"code {code!r} in {body}"
    # An inbound SMS the gateway did not sign: its signature is its credential.
    unauthenticated = {"not_authenticated", "pass_unauthorized", "invalid_signature"}
    if response.status_code == 401 and code not in unauthenticated:
        return f"401 with code {code!r}"
    # A Google callback that Google did not sign: its signature is its credential.
    if response.status_code == 403 and code not in {"forbidden", "callback_not_trusted"}:
        return f"403 with code {code!r}"
    return None


def test_every_row_has_one_status_per_role() -> None:
    for key, statuses in EXPECTED.items():
        assert len(statuses) == len(ROLES), key


async def test_the_matrix_names_every_route(api: Api) -> None:
    routes = app_routes(api.client.app)  # type: ignore[attr-defined]
    rows = {key[:2] for key in EXPECTED}
    assert routes - rows == set(), "routes without a row in the authorization matrix"
    assert rows - routes == set(), "rows for routes the application does not have"


async def test_every_route_answers_every_role_as_documented(
    api: Api, signer: GoogleSigner, settings: Settings
) -> None:
    world = await build_world(api, signer, settings)
    recipes = calls(world)
    assert recipes.keys() == EXPECTED.keys()
    wrong: list[str] = []
    for key, statuses in EXPECTED.items():
        call = recipes[key]
        refused_first = sorted(zip(ROLES, statuses, strict=True), key=lambda cell: cell[1] < 400)
        for role, expected in refused_first:
            headers = world.credentials[role]
            if call.fresh_staff_session and role in world.logins:
                headers = await login(api, world.logins[role])
            if call.fresh_customer_session and role in world.emails:
                headers = await customer_session(api, world.emails[role])
            response = await api.client.request(
                key[0],
                call.url,
                json=call.json() if call.json else None,
                content=call.content,
                headers={**headers, **(call.headers or {})},
                follow_redirects=False,
            )
            where = f"{' '.join(key)} as {role}"
            if response.status_code != expected:
                wrong.append(
                    f"{where}: expected {expected}, got {response.status_code} {response.content[:200]!r}"
                )
            elif expected >= 400 and (shape := problem_shape(response)):
                wrong.append(f"{where}: not a problem document: {shape}")
    # A preflight request carries no credential: it gets the allowed methods or a 401, no data.
    for url in {call.url for call in recipes.values()}:
        response = await api.client.options(url)
        if response.status_code == 204:
            if response.content:
                wrong.append(f"OPTIONS {url}: a body {response.content[:100]!r}")
        elif response.status_code != 401 or problem_shape(response):
            wrong.append(f"OPTIONS {url}: {response.status_code} {response.content[:200]!r}")
    assert wrong == [], "\n".join(wrong)


async def test_customer_b_never_reaches_customer_as_coupon_pass_qr_or_push(
    api: Api, signer: GoogleSigner, settings: Settings
) -> None:
    w = await build_world(api, signer, settings)
    a, b = w.credentials["customer_a"], w.credentials["customer_b"]
    coupon_a = w.coupon_a
    nobodys = 999_999_999

    # A's coupon, its pass, its QR code and its Google Wallet link: B gets the answer a coupon
    # that does not exist gets, with nothing of A's in it.
    for suffix in ("qr.svg", "pass.pkpass", "google-wallet"):
        assert (await api.client.get(f"/api/coupons/{coupon_a['id']}/{suffix}", headers=a)).status_code == 200
        theirs = await api.client.get(f"/api/coupons/{coupon_a['id']}/{suffix}", headers=b)
        missing = await api.client.get(f"/api/coupons/{nobodys}/{suffix}", headers=b)
        refused = problem(theirs, 404, "coupon_not_found")
        assert refused.keys() == problem(missing, 404, "coupon_not_found").keys()
        assert {k: v for k, v in refused.items() if k != "instance"} == {
            k: v for k, v in missing.json().items() if k != "instance"
        }
        for secret in (coupon_a["code"], coupon_a["qr_payload"], coupon_a["code_display"]):
            assert secret not in theirs.text
    # B's own views hold nothing of A's.
    mine = await api.coupons(b)
    assert [coupon["id"] for coupon in mine] == [w.coupon_b["id"]]
    assert coupon_a["code"] not in json.dumps(mine)
    me = (await api.client.get("/api/me", headers=b)).json()
    assert me["id"] == w.customer_b

    # A's pass on Apple's web service: B's pass token opens only B's pass.
    apple = "/wallet/apple/v1"
    latest = f"{apple}/passes/{w.pass_type}/{w.serial_a}"
    problem(await api.client.get(latest, headers=w.credentials["pass_b"]), 401, "pass_unauthorized")
    registration = f"{apple}/devices/device-a/registrations/{w.pass_type}/{w.serial_a}"
    problem(await api.client.delete(registration, headers=w.credentials["pass_b"]), 401, "pass_unauthorized")
    problem(
        await api.client.post(registration, json={"pushToken": "b2" * 32}, headers=w.credentials["pass_b"]),
        401,
        "pass_unauthorized",
    )
    registered = await api.sql(
        "SELECT d.library_id, d.push_token, r.coupon_id FROM apple_registrations r "
        "JOIN apple_devices d ON d.id = r.device_id"
    )
    assert [tuple(row) for row in registered] == [("device-a", PUSH_TOKEN, coupon_a["id"])]
    assert (await api.client.get(latest, headers=w.credentials["pass_a"])).status_code == 200

    # A's push subscription: B's removals, with or without A's endpoint, remove only B's own,
    # and nothing B reads names A's endpoint.
    for params in ({"endpoint": w.endpoint_a}, {}):
        removed = await api.client.delete("/api/me/push-subscriptions", params=params, headers=b)
        assert removed.status_code == 204
    subscriptions = await api.sql("SELECT customer_id, endpoint FROM push_subscriptions")
    assert [tuple(row) for row in subscriptions] == [(w.customer_a, w.endpoint_a)]
    assert w.endpoint_a not in (await api.client.get("/api/me", headers=b)).text
    assert w.endpoint_a not in (await api.client.get("/api/me/coupons", headers=b)).text

    # An endpoint is the secret of one browser: whoever subscribes it last is the one signed in
    # there, so it moves to them with their keys (A's offers stop appearing on a browser B now
    # uses). B learns nothing of A's by it.
    browser = Subscriber("shared").subscription("https://push.example.com")
    taken = await api.client.post(
        "/api/me/push-subscriptions", json={**browser, "endpoint": w.endpoint_a}, headers=b
    )
    assert taken.status_code == 201, taken.text
    assert set(taken.json()) == {"id", "endpoint"}
    assert taken.json()["endpoint"] == w.endpoint_a
    subscriptions = await api.sql("SELECT customer_id, p256dh FROM push_subscriptions")
    assert [tuple(row) for row in subscriptions] == [(w.customer_b, browser["keys"]["p256dh"])]
