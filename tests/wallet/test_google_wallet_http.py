"""Google Wallet through HTTP: the owner's save link (verified with PyJWT against the service
account's public key), redeeming its barcode, Google's signed save/delete callbacks, and the
object's state sent to (a local fake of) Google's API after a redemption."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from tessera.core.settings import Settings, WorkerSettings
from tests.fakes.google import FakeGoogle, running_fake_google
from tests.fakes.google_signing import GoogleSigner
from tests.support.api import Api, Headers, problem
from tests.support.fixed_values import START

SAVE_PREFIX = "https://pay.google.com/gp/v/save/"


@pytest.fixture
async def google(tmp_path: Path) -> AsyncIterator[FakeGoogle]:
    async with running_fake_google(tmp_path) as fake:
        yield fake


@pytest.fixture
def signer() -> GoogleSigner:
    return GoogleSigner()


@pytest.fixture
def settings(settings: Settings, google: FakeGoogle, signer: GoogleSigner, tmp_path: Path) -> Settings:
    root_keys = signer.write_root_keys(tmp_path / "root-keys.json", START + timedelta(days=365))
    return replace(
        settings,
        google=replace(
            settings.google,
            service_account_path=google.account_path,
            api_url=google.url,
            root_keys_path=root_keys,
        ),
        worker=WorkerSettings(embedded=True, poll_seconds=0.02, jobs_every_seconds=0.05),
    )


async def save_link(api: Api) -> tuple[Headers, dict[str, Any], dict[str, Any]]:
    _, customer = await api.customer()
    campaign = await api.campaign(wallet={"background_color": "#123456", "terms": "One per visit"})
    await api.publish(campaign["id"])
    (coupon,) = await api.coupons(customer)
    response = await api.client.get(coupon["google_wallet_url"], headers=customer)
    assert response.status_code == 200, response.text
    url = response.json()["save_url"]
    assert url.startswith(SAVE_PREFIX)
    return customer, coupon, {"jwt": url.removeprefix(SAVE_PREFIX)}


def callback(signer: GoogleSigner, settings: Settings, object_id: str, event: str, nonce: str) -> bytes:
    issuer = settings.google.issuer_id
    message = {
        "classId": f"{issuer}.campaign-1",
        "objectId": object_id,
        "eventType": event,
        "expTimeMillis": str(int((START + timedelta(hours=1)).timestamp() * 1000)),
        "count": "1",
        "nonce": nonce,
    }
    return signer.callback_body(issuer, message, intermediate_expires_at=START + timedelta(days=30))


async def test_save_link_callback_and_state_after_redemption(
    api: Api, google: FakeGoogle, signer: GoogleSigner, settings: Settings
) -> None:
    _, coupon, link = await save_link(api)
    token = link["jwt"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == google.account.private_key_id
    claims = jwt.decode(token, key=google.account.public_key(), algorithms=["RS256"], audience="google")
    assert claims["iss"] == google.account.client_email
    assert claims["typ"] == "savetowallet"
    assert claims["origins"] == [settings.public_url]
    (offer_class,) = claims["payload"]["offerClasses"]
    (offer_object,) = claims["payload"]["offerObjects"]
    issuer = settings.google.issuer_id
    assert offer_object["id"] == f"{issuer}.coupon-{coupon['id']}"
    assert offer_object["classId"] == offer_class["id"]
    assert offer_class["id"].startswith(f"{issuer}.")
    assert offer_class["hexBackgroundColor"].lower() == "#123456"
    assert offer_object["state"] == "ACTIVE"
    assert offer_object["validTimeInterval"]["end"]["date"].startswith(coupon["expires_at"][:19])

    # Google tells us the customer saved it (a repeated delivery is acknowledged, not counted).
    body = callback(signer, settings, offer_object["id"], "save", "nonce-1")
    for _ in range(2):
        answer = await api.client.post("/wallet/google/callback", content=body)
        assert answer.status_code == 200, answer.text
    tampered = body.replace(b"save", b"del ")
    # Well formed but not signed by Google for us: the sender is not Google (403); not a
    # callback message at all: 400.
    problem(await api.client.post("/wallet/google/callback", content=tampered), 403, "callback_not_trusted")
    problem(await api.client.post("/wallet/google/callback", content=b"{}"), 400, "invalid_callback")

    # Redeeming the object's barcode records the Google Wallet medium ...
    staff = await api.staff()
    redeemed = await api.redeem(staff, offer_object["barcode"]["value"])
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["medium"] == "google_wallet"
    # ... and the object's state goes to COMPLETED through the API.
    for _ in range(750):
        if google.states.get(offer_object["id"]) == "COMPLETED":
            break
        await asyncio.sleep(0.02)
    assert google.states == {offer_object["id"]: "COMPLETED"}

    removed = callback(signer, settings, offer_object["id"], "del", "nonce-2")
    assert (await api.client.post("/wallet/google/callback", content=removed)).status_code == 200
    events = await api.sql(
        "SELECT type, medium FROM events WHERE type IN ('pass_downloaded', 'wallet_saved', 'wallet_removed') "
        "ORDER BY id"
    )
    assert [tuple(row) for row in events] == [
        ("pass_downloaded", "google_wallet"),
        ("wallet_saved", "google_wallet"),
        ("wallet_removed", "google_wallet"),
    ]


async def test_expired_signing_key_is_refused(api: Api, signer: GoogleSigner, settings: Settings) -> None:
    _, coupon, _ = await save_link(api)
    object_id = f"{settings.google.issuer_id}.coupon-{coupon['id']}"
    message = {
        "classId": f"{settings.google.issuer_id}.campaign-1",
        "objectId": object_id,
        "eventType": "save",
        "expTimeMillis": str(int((START + timedelta(hours=1)).timestamp() * 1000)),
        "count": "1",
        "nonce": "n",
    }
    body = signer.callback_body(
        settings.google.issuer_id, message, intermediate_expires_at=START - timedelta(seconds=1)
    )
    problem(await api.client.post("/wallet/google/callback", content=body), 403, "callback_not_trusted")
    assert await api.sql("SELECT count(*) FROM events WHERE type = 'wallet_saved'") == [(0,)]


async def test_save_link_is_for_the_owner_only(api: Api) -> None:
    _, coupon, _ = await save_link(api)
    _, stranger = await api.customer()
    problem(await api.client.get(coupon["google_wallet_url"], headers=stranger), 404, "coupon_not_found")


async def test_a_saved_offer_turns_inactive_when_the_campaign_is_spent_by_another(
    api: Api, google: FakeGoogle, signer: GoogleSigner, settings: Settings
) -> None:
    """Google's state follows what the offer rules show the owner: INACTIVE (no longer valid)
    once someone else's redemption spends the campaign, ACTIVE again after the void."""
    staff = await api.staff()
    _, spender = await api.customer()
    _, holder = await api.customer()
    campaign = await api.campaign(limits={"per_customer": None, "max_redemptions": 1})
    await api.publish(campaign["id"])
    (held,) = await api.coupons(holder)
    link = await api.client.get(held["google_wallet_url"], headers=holder)
    claims = jwt.decode(
        link.json()["save_url"].removeprefix(SAVE_PREFIX),
        key=google.account.public_key(),
        algorithms=["RS256"],
        audience="google",
    )
    (offer_object,) = claims["payload"]["offerObjects"]
    assert offer_object["state"] == "ACTIVE"
    saved = callback(signer, settings, offer_object["id"], "save", "nonce-saved")
    assert (await api.client.post("/wallet/google/callback", content=saved)).status_code == 200

    (spent,) = await api.coupons(spender)
    redeemed = await api.redeem(staff, spent["code"])
    assert redeemed.status_code == 201, redeemed.text
    await wait_for_state(google, offer_object["id"], "INACTIVE")
    # A save link made now carries the same state.
    again = await api.client.get(held["google_wallet_url"], headers=holder)
    claims = jwt.decode(
        again.json()["save_url"].removeprefix(SAVE_PREFIX),
        key=google.account.public_key(),
        algorithms=["RS256"],
        audience="google",
    )
    assert claims["payload"]["offerObjects"][0]["state"] == "INACTIVE"

    void = await api.client.post(f"/api/redemptions/{redeemed.json()['id']}/void", headers=staff)
    assert void.status_code == 200, void.text
    await wait_for_state(google, offer_object["id"], "ACTIVE")


async def wait_for_state(google: FakeGoogle, object_id: str, state: str) -> None:
    for _ in range(750):
        if google.states.get(object_id) == state:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{object_id} never became {state}: {google.states}")
