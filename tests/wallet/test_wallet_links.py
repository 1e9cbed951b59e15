"""Signed wallet links from mail merges: the landing page, the Apple pass and the Google save
link of one coupon, without a bearer token; refused when tampered with, foreign or expired."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import replace
from datetime import timedelta
from typing import Any

import jwt
import pytest
from httpx import Response

from tessera.codes.keys import CodeKeys
from tessera.core.settings import Settings
from tessera.wallet.links.tokens import WalletLinks
from tests.support.api import Api, problem

SAVE_PREFIX = "https://pay.google.com/gp/v/save/"
USES = 3
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, throttle=replace(settings.throttle, wallet_link_uses=USES))


async def merged(api: Api, count: int = 2) -> list[dict[str, Any]]:
    """``count`` customers' merged coupons (code, links, ids) of one e-mail."""
    campaign = await api.campaign(slug="spring")
    await api.publish(campaign["id"])
    recipients = [{"customer_id": (await api.customer())[0]} for _ in range(count)]
    response = await api.client.post(
        "/api/mail-merges",
        json={
            "message_id": "m1",
            "channel": "email",
            "template": {"body": "{{wallet_link:spring}}"},
            "recipients": recipients,
        },
        headers=await api.marketer(),
    )
    assert response.status_code == 200, response.text
    *lines, _ = [json.loads(line) for line in response.text.splitlines()]
    for line in lines:
        assert line["body"] == line["coupons"][0]["wallet_link"]
    return [line["coupons"][0] for line in lines]


def path_of(link: str, api: Api) -> str:
    assert link.startswith(f"{api.settings.public_url}/wallet/links/")
    return link.removeprefix(api.settings.public_url)


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


async def refused(api: Api, token: str, status: int, code: str) -> dict[str, Any]:
    bodies = []
    for suffix in ("", "/pass.pkpass", "/google-wallet"):
        response = await api.client.get(f"/wallet/links/{token}{suffix}", follow_redirects=False)
        body = problem(response, status, code)
        bodies.append({k: v for k, v in body.items() if k != "instance"})
    assert bodies[0] == bodies[1] == bodies[2]
    return bodies[0]


def pass_json(response: Response) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        data: dict[str, Any] = json.loads(archive.read("pass.json"))
    return data


async def test_a_link_opens_its_coupon_without_a_bearer_token(api: Api) -> None:
    mine, theirs = await merged(api)
    page = await api.client.get(path_of(mine["wallet_link"], api), headers={"Accept-Language": "it-IT,it"})
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert mine["code_display"] in page.text
    assert theirs["code_display"] not in page.text
    assert "Aggiungi a Apple Wallet" in page.text
    assert f'href="/wallet/links/{token_of(mine["wallet_link"])}/pass.pkpass"' in page.text
    english = await api.client.get(path_of(mine["wallet_link"], api))
    assert "Add to Google Wallet" in english.text

    download = await api.client.get(path_of(mine["wallet_link"], api) + "/pass.pkpass")
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/vnd.apple.pkpass"
    data = pass_json(download)
    assert data["serialNumber"] == str(mine["coupon_id"])
    assert data["barcodes"][0]["message"] == f"TSR1:A:{mine['code']}"

    save = await api.client.get(path_of(mine["wallet_link"], api) + "/google-wallet", follow_redirects=False)
    assert save.status_code == 303, save.text
    assert save.headers["referrer-policy"] == "no-referrer"
    location = save.headers["location"]
    assert location.startswith(SAVE_PREFIX)
    account = api.client.app.state.services.google_wallet.account  # type: ignore[attr-defined]
    claims = jwt.decode(
        location.removeprefix(SAVE_PREFIX), key=account.public_key(), algorithms=["RS256"], audience="google"
    )
    (offer,) = claims["payload"]["offerObjects"]
    assert offer["id"].endswith(f"coupon-{mine['coupon_id']}")
    assert mine["code"] in offer["barcode"]["value"]

    events = await api.sql(
        "SELECT coupon_id, channel, medium FROM events WHERE type = 'pass_downloaded' ORDER BY id"
    )
    assert [tuple(e) for e in events] == [
        (mine["coupon_id"], "email", "apple_wallet"),
        (mine["coupon_id"], "email", "google_wallet"),
    ]
    staff = await api.staff()
    redeemed = await api.redeem(staff, data["barcodes"][0]["message"])
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["medium"] == "apple_wallet"
    assert redeemed.json()["coupon_id"] == mine["coupon_id"]


async def test_tampered_foreign_and_expired_links_are_refused(api: Api) -> None:
    mine, theirs = await merged(api)
    token = token_of(mine["wallet_link"])
    invalid = await refused(api, token[:-1], 404, "invalid_link")
    for position in (0, 11, 21, 42):
        flipped = B64[(B64.index(token[position]) + 5) % 64]
        assert (
            await refused(api, token[:position] + flipped + token[position + 1 :], 404, "invalid_link")
            == invalid
        )
    # The last character holds two spare bits: a second spelling of the same bytes is refused too.
    respelled = token[:-1] + B64[B64.index(token[-1]) + 1]
    assert base64.urlsafe_b64decode(respelled + "=") == base64.urlsafe_b64decode(token + "=")
    assert await refused(api, respelled, 404, "invalid_link") == invalid
    # Another coupon's id under this coupon's MAC, and a token signed with another secret.
    raw = base64.urlsafe_b64decode(token + "=")
    other_id = theirs["coupon_id"].to_bytes(8, "big")
    swapped = base64.urlsafe_b64encode(other_id + raw[8:]).rstrip(b"=").decode()
    assert await refused(api, swapped, 404, "invalid_link") == invalid
    stranger = WalletLinks(CodeKeys("another-secret-0123456789abcdefghijklmnop"), api.settings.public_url)
    expires_at = api.clock.now() + timedelta(days=7)
    forged = stranger.token(mine["coupon_id"], expires_at)
    assert await refused(api, forged, 404, "invalid_link") == invalid
    for garbage in ("x", "A" * 43, "%00" * 20, "A" * 500):
        assert await refused(api, garbage, 404, "invalid_link") == invalid
    assert (await api.sql("SELECT count(*) FROM events WHERE type = 'pass_downloaded'"))[0][0] == 0

    # Each token opens only its own coupon.
    theirs_pass = await api.client.get(path_of(theirs["wallet_link"], api) + "/pass.pkpass")
    assert pass_json(theirs_pass)["serialNumber"] == str(theirs["coupon_id"])

    # A withdrawn coupon's link opens nothing: its owner's erasure revokes it.
    erased_id, erased = await api.customer()
    issued = await api.client.post(
        "/api/mail-merges",
        json={
            "message_id": "m2",
            "channel": "email",
            "template": {"body": "{{wallet_link:spring}}"},
            "recipients": [{"customer_id": erased_id}],
        },
        headers=await api.marketer(),
    )
    withdrawn = token_of(json.loads(issued.text.splitlines()[0])["body"])
    assert (await api.client.get(f"/wallet/links/{withdrawn}")).status_code == 200
    assert (await api.client.delete("/api/me", headers=erased)).status_code == 204
    await refused(api, withdrawn, 410, "link_expired")

    # The link lives as long as its coupon.
    api.clock.advance(timedelta(days=7))
    gone = await refused(api, token, 410, "link_expired")
    assert gone["detail"]
    assert await refused(api, forged, 404, "invalid_link") == invalid


async def test_a_link_used_too_often_waits_for_the_next_window(api: Api) -> None:
    mine, theirs = await merged(api)
    link = path_of(mine["wallet_link"], api)
    for suffix in ("/pass.pkpass", "/google-wallet", "/pass.pkpass"):
        assert (await api.client.get(link + suffix, follow_redirects=False)).status_code in (200, 303)
    for suffix in ("/pass.pkpass", "/google-wallet"):
        limited = await api.client.get(link + suffix, follow_redirects=False)
        body = problem(limited, 429, "too_many_attempts")
        assert int(limited.headers["retry-after"]) == body["retry_after"] > 0
    assert (await api.client.get(link)).status_code == 200  # the page builds nothing
    other = await api.client.get(path_of(theirs["wallet_link"], api) + "/pass.pkpass")
    assert other.status_code == 200
    downloads = await api.sql("SELECT count(*) FROM events WHERE type = 'pass_downloaded'")
    assert downloads[0][0] == USES + 1
    api.clock.advance(timedelta(seconds=api.settings.throttle.window_seconds))
    assert (await api.client.get(link + "/pass.pkpass")).status_code == 200


async def test_a_used_up_coupons_page_says_so_and_its_pass_is_void(api: Api) -> None:
    mine, theirs = await merged(api)
    link = path_of(mine["wallet_link"], api)
    assert "Add to Apple Wallet" in (await api.client.get(link)).text
    # The campaign's one redemption goes to the other customer: this offer is used up.
    [(campaign_id,)] = await api.sql("SELECT campaign_id FROM coupons WHERE id = :c", c=mine["coupon_id"])
    limited = await api.client.patch(
        f"/api/campaigns/{campaign_id}",
        json={"limits": {"max_redemptions": 1}},
        headers=await api.marketer(),
    )
    assert limited.status_code == 200, limited.text
    assert (await api.redeem(await api.staff(), theirs["code"])).status_code == 201

    page = await api.client.get(link)
    assert page.status_code == 200
    assert "This offer is used up" in page.text
    assert "Add to Apple Wallet" not in page.text
    assert "/pass.pkpass" not in page.text
    italian = await api.client.get(link, headers={"Accept-Language": "it"})
    assert "Questa offerta è esaurita" in italian.text
    data = pass_json(await api.client.get(link + "/pass.pkpass"))
    assert data["voided"] is True
    assert "Used up" in json.dumps(data["coupon"])
