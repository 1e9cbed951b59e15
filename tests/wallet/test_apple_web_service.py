"""The Apple Wallet conversation through HTTP: pass download, device registration, changed
serials, latest pass with 304, and an APNs push per registered device after each change,
delivered to a local HTTP/2 fake that demands the pass certificate as TLS client certificate."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from httpx import Response
from litestar.testing import AsyncTestClient

from tessera.app import create_app
from tessera.core.clock import FrozenClock
from tessera.core.settings import Settings, WorkerSettings
from tessera.wallet.apple.dev_certificates import DevelopmentCertificates
from tests.fakes.apns import FakeApns, running_fake_apns
from tests.support.api import Api, Headers, problem
from tests.support.tls import ServerCertificate, make_server_certificate

TOKEN_A = "a1" * 32
TOKEN_B = "b2" * 32
DELIVERY_WAIT_SECONDS = 15


@pytest.fixture(scope="module")
def server_certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return make_server_certificate(tmp_path_factory.mktemp("apns-tls"))


@pytest.fixture
def fake_apns(
    server_certificate: ServerCertificate, pass_certificates: DevelopmentCertificates
) -> Iterator[FakeApns]:
    with running_fake_apns(server_certificate, pass_certificates.wwdr_path) as fake:
        yield fake


def with_worker(settings: Settings, fake: FakeApns, *, embedded: bool = True) -> Settings:
    return replace(
        settings,
        apple=replace(settings.apple, apns_url=fake.url, apns_ca_path=fake.ca_path),
        worker=WorkerSettings(embedded=embedded, poll_seconds=0.02, jobs_every_seconds=0.05),
    )


@pytest.fixture
def settings(settings: Settings, fake_apns: FakeApns) -> Settings:
    return with_worker(settings, fake_apns)


def pass_json(pkpass: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        data: dict[str, Any] = json.loads(archive.read("pass.json"))
        return data


def auth(pass_data: dict[str, Any]) -> Headers:
    return {"Authorization": f"ApplePass {pass_data['authenticationToken']}"}


async def wait_for(condition: Any, what: str) -> None:
    for _ in range(int(DELIVERY_WAIT_SECONDS / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def outbox_settled(api: Api) -> bool:
    rows = await api.sql("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL")
    return bool(rows[0][0] == 0)


async def issued_coupon(api: Api) -> tuple[Headers, dict[str, Any]]:
    _, customer = await api.customer()
    campaign = await api.campaign()
    await api.publish(campaign["id"])
    (coupon,) = await api.coupons(customer)
    return customer, coupon


async def test_pass_download_register_push_and_update(
    api: Api, fake_apns: FakeApns, settings: Settings
) -> None:
    customer, coupon = await issued_coupon(api)
    assert coupon["apple_pass_url"] == f"/api/coupons/{coupon['id']}/pass.pkpass"
    downloaded = await api.client.get(coupon["apple_pass_url"], headers=customer)
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.headers["content-type"] == "application/vnd.apple.pkpass"
    data = pass_json(downloaded.content)
    serial, pass_type = data["serialNumber"], data["passTypeIdentifier"]
    assert data["webServiceURL"] == f"{settings.public_url}/wallet/apple"
    assert len(data["authenticationToken"]) >= 16
    registration = f"/wallet/apple/v1/devices/device-a/registrations/{pass_type}/{serial}"

    # Without the pass's token, or with another pass's token: 401.
    problem(await api.client.post(registration, json={"pushToken": TOKEN_A}), 401, "pass_unauthorized")
    wrong = {"Authorization": "ApplePass " + "x" * 43}
    problem(
        await api.client.post(registration, json={"pushToken": TOKEN_A}, headers=wrong),
        401,
        "pass_unauthorized",
    )
    other = f"/wallet/apple/v1/devices/device-a/registrations/{pass_type}/{int(serial) + 1}"
    problem(
        await api.client.post(other, json={"pushToken": TOKEN_A}, headers=auth(data)),
        401,
        "pass_unauthorized",
    )

    created = await api.client.post(registration, json={"pushToken": TOKEN_A}, headers=auth(data))
    assert created.status_code == 201, created.text
    again = await api.client.post(registration, json={"pushToken": TOKEN_A}, headers=auth(data))
    assert again.status_code == 200
    second_device = registration.replace("device-a", "device-b")
    assert (
        await api.client.post(second_device, json={"pushToken": TOKEN_B}, headers=auth(data))
    ).status_code == 201

    changed = await api.client.get(f"/wallet/apple/v1/devices/device-a/registrations/{pass_type}")
    assert changed.status_code == 200
    assert changed.json()["serialNumbers"] == [serial]
    tag = changed.json()["lastUpdated"]
    unchanged = await api.client.get(
        f"/wallet/apple/v1/devices/device-a/registrations/{pass_type}", params={"passesUpdatedSince": tag}
    )
    assert unchanged.status_code == 204

    latest_url = f"/wallet/apple/v1/passes/{pass_type}/{serial}"
    problem(await api.client.get(latest_url), 401, "pass_unauthorized")
    latest = await api.client.get(latest_url, headers=auth(data))
    assert latest.status_code == 200
    assert latest.headers["content-type"] == "application/vnd.apple.pkpass"
    modified = latest.headers["last-modified"]
    not_modified = await api.client.get(latest_url, headers={**auth(data), "If-Modified-Since": modified})
    assert not_modified.status_code == 304

    # Redeem with what the pass's barcode holds: the medium is Apple Wallet.
    api.clock.advance(timedelta(minutes=5))
    staff = await api.staff()
    redeemed = await api.redeem(staff, data["barcodes"][0]["message"])
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["medium"] == "apple_wallet"

    await wait_for(lambda: outbox_settled(api), "the pushes")
    assert sorted(fake_apns.tokens()) == sorted([TOKEN_A, TOKEN_B])
    for push in fake_apns.pushes:
        assert push.topic == pass_type
        assert push.body == b"{}"
        assert push.http_version == "2"

    changed = await api.client.get(
        f"/wallet/apple/v1/devices/device-a/registrations/{pass_type}", params={"passesUpdatedSince": tag}
    )
    assert changed.status_code == 200
    assert changed.json()["serialNumbers"] == [serial]
    assert int(changed.json()["lastUpdated"]) > int(tag)
    updated = await api.client.get(latest_url, headers={**auth(data), "If-Modified-Since": modified})
    assert updated.status_code == 200
    redeemed_pass = pass_json(updated.content)
    assert redeemed_pass["voided"] is True
    fields = [
        field for group in redeemed_pass["coupon"].values() if isinstance(group, list) for field in group
    ]
    assert any("%@" in field.get("changeMessage", "") for field in fields)
    assert "Redeemed" in json.dumps(redeemed_pass["coupon"])

    # Device B's token is gone (410): the void pushes to both, and B's registration goes.
    fake_apns.gone.add(TOKEN_B)
    void = await api.client.post(f"/api/redemptions/{redeemed.json()['id']}/void", headers=staff)
    assert void.status_code in (200, 201), void.text
    await wait_for(lambda: outbox_settled(api), "the pushes after the void")
    assert sorted(fake_apns.tokens()) == sorted([TOKEN_A, TOKEN_B, TOKEN_A, TOKEN_B])
    devices = await api.sql("SELECT library_id FROM apple_devices ORDER BY library_id")
    assert [row[0] for row in devices] == ["device-a"]
    assert await api.sql("SELECT count(*) FROM apple_registrations") == [(1,)]

    unregistered = await api.client.delete(registration, headers=auth(data))
    assert unregistered.status_code == 200
    assert await api.sql("SELECT count(*) FROM apple_registrations") == [(0,)]
    events = await api.sql(
        "SELECT type, medium FROM events "
        "WHERE type IN ('pass_downloaded', 'wallet_saved', 'wallet_removed') ORDER BY id"
    )
    assert [tuple(row) for row in events] == [
        ("pass_downloaded", "apple_wallet"),
        ("wallet_saved", "apple_wallet"),
        ("wallet_saved", "apple_wallet"),
        ("wallet_removed", "apple_wallet"),
        ("wallet_removed", "apple_wallet"),
    ]
    logged = await api.client.post("/wallet/apple/v1/log", json={"logs": ["Web service error: 500"]})
    assert logged.status_code == 200


async def test_pass_of_another_customer_is_not_found(api: Api) -> None:
    _, coupon = await issued_coupon(api)
    _, stranger = await api.customer()
    problem(await api.client.get(coupon["apple_pass_url"], headers=stranger), 404, "coupon_not_found")


async def test_unknown_pass_type_and_malformed_push_token(api: Api) -> None:
    customer, coupon = await issued_coupon(api)
    data = pass_json((await api.client.get(coupon["apple_pass_url"], headers=customer)).content)
    serial = data["serialNumber"]
    wrong_type = f"/wallet/apple/v1/devices/d/registrations/pass.other.type/{serial}"
    problem(
        await api.client.post(wrong_type, json={"pushToken": TOKEN_A}, headers=auth(data)),
        404,
        "pass_not_found",
    )
    path = f"/wallet/apple/v1/devices/d/registrations/{data['passTypeIdentifier']}/{serial}"
    problem(
        await api.client.post(path, json={"pushToken": "../../x"}, headers=auth(data)), 422, "invalid_value"
    )
    long_device = path.replace("/devices/d/", "/devices/" + "d" * 200 + "/")
    response = await api.client.post(long_device, json={"pushToken": TOKEN_A}, headers=auth(data))
    problem(response, 422, "invalid_value")
    assert await api.sql("SELECT count(*) FROM apple_devices") == [(0,)]
    assert (
        await api.client.get(f"/wallet/apple/v1/devices/nobody/registrations/{data['passTypeIdentifier']}")
    ).status_code == 204


async def test_a_push_survives_a_stopped_worker(
    fake_apns: FakeApns, settings: Settings, clock: FrozenClock
) -> None:
    """The outbox row is written with the redemption: a process that stops before delivering
    loses nothing, and the next process's worker delivers it."""
    without_worker = with_worker(settings, fake_apns, embedded=False)
    async with AsyncTestClient(app=create_app(without_worker, clock)) as first:
        api = Api(first, clock, without_worker)
        customer, coupon = await issued_coupon(api)
        data = pass_json((await first.get(coupon["apple_pass_url"], headers=customer)).content)
        path = f"/wallet/apple/v1/devices/d/registrations/{data['passTypeIdentifier']}/{data['serialNumber']}"
        assert (await first.post(path, json={"pushToken": TOKEN_A}, headers=auth(data))).status_code == 201
        redeemed = await api.redeem(await api.staff(), data["barcodes"][0]["message"])
        assert redeemed.status_code == 201
    assert not await outbox_settled(api)
    assert fake_apns.pushes == []
    async with AsyncTestClient(app=create_app(settings, clock)) as second:
        await wait_for(lambda: outbox_settled(Api(second, clock, settings)), "the push from the next worker")
    assert fake_apns.tokens() == [TOKEN_A]


async def test_expiring_pass_changes_once(api: Api, fake_apns: FakeApns) -> None:
    customer, coupon = await issued_coupon(api)
    data = pass_json((await api.client.get(coupon["apple_pass_url"], headers=customer)).content)
    path = f"/wallet/apple/v1/devices/d/registrations/{data['passTypeIdentifier']}/{data['serialNumber']}"
    assert (await api.client.post(path, json={"pushToken": TOKEN_A}, headers=auth(data))).status_code == 201
    api.clock.advance(timedelta(days=6))  # 7-day coupon: within the 48-hour notice window
    await wait_for(lambda: _noticed(api), "the expiry notice")
    await wait_for(lambda: outbox_settled(api), "the expiry push")
    assert fake_apns.tokens() == [TOKEN_A]
    latest = await api.client.get(
        f"/wallet/apple/v1/passes/{data['passTypeIdentifier']}/{data['serialNumber']}", headers=auth(data)
    )
    assert "Expires soon" in json.dumps(pass_json(latest.content)["coupon"])


async def _noticed(api: Api) -> bool:
    rows = await api.sql("SELECT count(*) FROM coupons WHERE expiry_noticed_at IS NOT NULL")
    return bool(rows[0][0] == 1)


def png(width: int, height: int) -> str:
    import base64

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 120, 200, 255)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


async def test_campaign_design_shapes_the_pass_and_a_change_is_pushed(api: Api, fake_apns: FakeApns) -> None:
    store = await api.client.post(
        "/api/stores",
        json={"name": "Main street", "timezone": "UTC", "location": {"latitude": 47.5, "longitude": 19.04}},
        headers=await api.marketer(),
    )
    assert store.status_code == 201, store.text
    assert store.json()["location"] == {"latitude": 47.5, "longitude": 19.04}
    design = {
        "background_color": "#102030",
        "foreground_color": "#FFFFFF",
        "logo_text": "Corner Shop",
        "terms": "One per visit",
        "texts": {"de": {"title": "Frühling"}},
        "logo_png": png(600, 150),
    }
    _, customer = await api.customer()
    campaign = await api.campaign(wallet=design)
    assert campaign["wallet"]["has_logo"] is True
    assert "logo_png" not in campaign["wallet"]
    await api.publish(campaign["id"])
    (coupon,) = await api.coupons(customer)
    pkpass = (await api.client.get(coupon["apple_pass_url"], headers=customer)).content
    data = pass_json(pkpass)
    assert data["backgroundColor"] == "rgb(16, 32, 48)"
    assert data["logoText"] == "Corner Shop"
    assert data["locations"] == [{"latitude": 47.5, "longitude": 19.04, "relevantText": "Main street"}]
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        assert "Frühling" in archive.read("de.lproj/pass.strings").decode()
        assert archive.read("logo.png")[16:24] == (160).to_bytes(4, "big") + (40).to_bytes(4, "big")

    path = f"/wallet/apple/v1/devices/d/registrations/{data['passTypeIdentifier']}/{data['serialNumber']}"
    assert (await api.client.post(path, json={"pushToken": TOKEN_A}, headers=auth(data))).status_code == 201
    changed = await api.client.patch(
        f"/api/campaigns/{campaign['id']}",
        json={"wallet": {"background_color": "#FF0000"}},
        headers=await api.marketer(),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["wallet"]["has_logo"] is True  # kept: neither a new logo nor remove_logo
    await wait_for(lambda: outbox_settled(api), "the push after the design change")
    assert fake_apns.tokens() == [TOKEN_A]
    latest = await api.client.get(
        f"/wallet/apple/v1/passes/{data['passTypeIdentifier']}/{data['serialNumber']}", headers=auth(data)
    )
    assert pass_json(latest.content)["backgroundColor"] == "rgb(255, 0, 0)"


@pytest.mark.parametrize(
    ("wallet", "field"),
    [
        ({"logo_png": "bm90IGEgcG5n"}, "wallet.logo_png"),
        ({"logo_png": png(200, 20)}, "wallet.logo_png"),
        ({"background_color": "red"}, None),
        ({"texts": {"xx-invalid": {"title": "x"}}}, None),
    ],
)
async def test_bad_designs_are_refused_and_change_nothing(
    api: Api, wallet: dict[str, Any], field: str | None
) -> None:
    before = await api.sql("SELECT count(*) FROM campaigns")
    response = await api.client.post(
        "/api/campaigns",
        json={
            "name": "x",
            "discount": {"kind": "percent", "value": 10},
            "starts_at": "2026-06-01T00:00:00Z",
            "ends_at": "2026-07-01T00:00:00Z",
            "wallet": wallet,
        },
        headers=await api.marketer(),
    )
    # A logo is any base64 text to the document: a rule refuses it (422); a colour or a
    # language the document's patterns refuse is 400.
    body = problem(response, *((422, "invalid_value") if field else (400, "invalid_input")))
    if field:
        assert body["errors"][0].get("key") == field
    assert await api.sql("SELECT count(*) FROM campaigns") == before


async def test_erasure_voids_the_saved_pass(api: Api, fake_apns: FakeApns) -> None:
    customer, coupon = await issued_coupon(api)
    data = pass_json((await api.client.get(coupon["apple_pass_url"], headers=customer)).content)
    path = f"/wallet/apple/v1/devices/d/registrations/{data['passTypeIdentifier']}/{data['serialNumber']}"
    assert (await api.client.post(path, json={"pushToken": TOKEN_A}, headers=auth(data))).status_code == 201
    api.clock.advance(timedelta(seconds=1))
    assert (await api.client.delete("/api/me", headers=customer)).status_code == 204
    await wait_for(lambda: outbox_settled(api), "the push after erasure")
    assert fake_apns.tokens() == [TOKEN_A]
    latest = await api.client.get(
        f"/wallet/apple/v1/passes/{data['passTypeIdentifier']}/{data['serialNumber']}", headers=auth(data)
    )
    revoked = pass_json(latest.content)
    assert revoked["voided"] is True
    assert "Revoked" in json.dumps(revoked["coupon"])


async def registered_pass(api: Api) -> tuple[dict[str, Any], str, str]:
    """A customer's pass on device ``d``: its pass.json, the latest-pass URL and the listing URL."""
    customer, coupon = await issued_coupon(api)
    data = pass_json((await api.client.get(coupon["apple_pass_url"], headers=customer)).content)
    pass_type, serial = data["passTypeIdentifier"], data["serialNumber"]
    path = f"/wallet/apple/v1/devices/d/registrations/{pass_type}/{serial}"
    assert (await api.client.post(path, json={"pushToken": TOKEN_A}, headers=auth(data))).status_code == 201
    return (
        data,
        f"/wallet/apple/v1/passes/{pass_type}/{serial}",
        f"/wallet/apple/v1/devices/d/registrations/{pass_type}",
    )


def validators(response: Response) -> Headers:
    """What a device sends back from a pass answer: its ETag and its Last-Modified."""
    return {"If-None-Match": response.headers["etag"], "If-Modified-Since": response.headers["last-modified"]}


async def test_a_void_in_the_second_of_its_redemption_is_never_answered_304(api: Api) -> None:
    data, latest_url, listing_url = await registered_pass(api)
    staff = await api.staff()
    api.clock.advance(timedelta(minutes=5, milliseconds=100))
    redeemed = await api.redeem(staff, data["barcodes"][0]["message"])
    assert redeemed.status_code == 201, redeemed.text
    listed = await api.client.get(listing_url)
    tag = listed.json()["lastUpdated"]
    first = await api.client.get(latest_url, headers=auth(data))
    assert first.status_code == 200
    assert pass_json(first.content)["voided"] is True
    assert first.headers["etag"].startswith('W/"')
    assert first.headers["last-modified"] == "Mon, 01 Jun 2026 12:05:00 GMT"

    # The device holds the redeemed pass: same validators, 304 (the ETag decides).
    unchanged = await api.client.get(latest_url, headers={**auth(data), **validators(first)})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == first.headers["etag"]
    assert unchanged.headers["last-modified"] == first.headers["last-modified"]
    listed_again = await api.client.get(listing_url, params={"passesUpdatedSince": tag})
    assert listed_again.status_code == 204

    # Voided 300 ms later, within the same second: the same Last-Modified, a new version.
    api.clock.advance(timedelta(milliseconds=300))
    void = await api.client.post(f"/api/redemptions/{redeemed.json()['id']}/void", headers=staff)
    assert void.status_code in (200, 201), void.text
    listed = await api.client.get(listing_url, params={"passesUpdatedSince": tag})
    assert listed.status_code == 200
    assert listed.json()["serialNumbers"] == [data["serialNumber"]]
    assert int(listed.json()["lastUpdated"]) == int(tag) + 300_000
    for sent in (
        validators(first),
        {"If-Modified-Since": first.headers["last-modified"]},
        {"If-None-Match": first.headers["etag"]},
    ):
        updated = await api.client.get(latest_url, headers={**auth(data), **sent})
        assert updated.status_code == 200, sent
        assert "voided" not in pass_json(updated.content)
        assert updated.headers["last-modified"] == first.headers["last-modified"]
        assert updated.headers["etag"] != first.headers["etag"]

    # Unchanged since: the new ETag gets 304; a whole-second date alone cannot tell the void
    # (12:05:00.400) from a later change in 12:05:00, so it gets the pass, but a later one 304.
    assert (
        await api.client.get(latest_url, headers={**auth(data), **validators(updated)})
    ).status_code == 304
    for date, status in (
        ("Mon, 01 Jun 2026 12:05:00 GMT", 200),
        ("Mon, 01 Jun 2026 12:05:01 GMT", 200),  # still to come on the server's clock
        ("not a date", 200),
    ):
        answer = await api.client.get(latest_url, headers={**auth(data), "If-Modified-Since": date})
        assert answer.status_code == status, date
    api.clock.advance(timedelta(seconds=1))
    assert (
        await api.client.get(
            latest_url, headers={**auth(data), "If-Modified-Since": "Mon, 01 Jun 2026 12:05:01 GMT"}
        )
    ).status_code == 304
    assert (
        await api.client.get(listing_url, params={"passesUpdatedSince": listed.json()["lastUpdated"]})
    ).status_code == 204


async def test_a_redemption_and_its_void_at_the_same_instant_are_two_versions(api: Api) -> None:
    data, latest_url, _ = await registered_pass(api)
    staff = await api.staff()
    code = data["barcodes"][0]["message"]
    api.clock.advance(timedelta(minutes=5, microseconds=1))  # then stands still

    async def latest_after(previous: Response | None) -> Response:
        headers = {**auth(data), **(validators(previous) if previous is not None else {})}
        answer = await api.client.get(latest_url, headers=headers)
        assert answer.status_code == 200
        return answer

    redeemed = await api.redeem(staff, code)
    assert redeemed.status_code == 201, redeemed.text
    first = await latest_after(None)
    void = await api.client.post(f"/api/redemptions/{redeemed.json()['id']}/void", headers=staff)
    assert void.status_code in (200, 201), void.text
    second = await latest_after(first)
    assert (await api.redeem(staff, code)).status_code == 201
    third = await latest_after(second)
    assert len({answer.headers["etag"] for answer in (first, second, third)}) == 3
    assert [pass_json(answer.content).get("voided", False) for answer in (first, second, third)] == [
        True,
        False,
        True,
    ]
    assert (await api.client.get(latest_url, headers={**auth(data), "If-None-Match": "*"})).status_code == 304
    either = f'W/"other", {third.headers["etag"]}'
    assert (
        await api.client.get(latest_url, headers={**auth(data), "If-None-Match": either})
    ).status_code == 304


def status_of(pkpass: bytes) -> tuple[bool, str]:
    """Whether the pass is void, and what its status field says."""
    data = pass_json(pkpass)
    (field,) = [field for field in data["coupon"]["auxiliaryFields"] if field["key"] == "status"]
    return data.get("voided", False), field["value"]


async def test_passes_read_used_up_when_another_customer_spends_the_campaign_and_are_pushed(
    api: Api, fake_apns: FakeApns, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The campaign's last redemption changes the passes of everyone else who holds one: each
    device is pushed once (the campaign's passes walked two at a time), lists the pass as
    changed and gets it void and "Used up", never a 304; a void, and a raised limit, bring it
    back."""
    monkeypatch.setattr("tessera.wallet.delivery.CAMPAIGN_CHUNK", 2)
    staff = await api.staff()
    _, spender = await api.customer()
    holders = [await api.customer() for _ in range(3)]
    campaign = await api.campaign(limits={"per_customer": None, "max_redemptions": 1})
    await api.publish(campaign["id"])
    tokens = [f"{number:02d}" * 32 for number in range(3)]
    passes = []
    for (_, customer), token in zip(holders, tokens, strict=True):
        (coupon,) = await api.coupons(customer)
        data = pass_json((await api.client.get(coupon["apple_pass_url"], headers=customer)).content)
        pass_type, serial = data["passTypeIdentifier"], data["serialNumber"]
        device = f"/wallet/apple/v1/devices/device-{token[:2]}/registrations/{pass_type}"
        registered = await api.client.post(
            f"{device}/{serial}", json={"pushToken": token}, headers=auth(data)
        )
        assert registered.status_code == 201, registered.text
        passes.append((data, f"/wallet/apple/v1/passes/{pass_type}/{serial}", device))
    data, latest_url, listing_url = passes[0]
    before = await api.client.get(latest_url, headers=auth(data))
    assert status_of(before.content) == (False, "Valid")
    tag = (await api.client.get(listing_url)).json()["lastUpdated"]

    api.clock.advance(timedelta(minutes=5))
    (spent,) = await api.coupons(spender)
    redeemed = await api.redeem(staff, spent["code"])
    assert redeemed.status_code == 201, redeemed.text
    await wait_for(lambda: outbox_settled(api), "the pushes after the campaign was spent")
    assert sorted(fake_apns.tokens()) == sorted(tokens)
    chunks = await api.sql("SELECT count(*) FROM outbox WHERE topic = 'campaign_passes'")
    assert chunks == [(2,)]
    listed = await api.client.get(listing_url, params={"passesUpdatedSince": tag})
    assert listed.status_code == 200
    assert listed.json()["serialNumbers"] == [data["serialNumber"]]
    for sent in (
        validators(before),
        {"If-Modified-Since": before.headers["last-modified"]},
        {"If-None-Match": before.headers["etag"]},
    ):
        used_up = await api.client.get(latest_url, headers={**auth(data), **sent})
        assert used_up.status_code == 200, sent
        assert status_of(used_up.content) == (True, "Used up")
        assert used_up.headers["last-modified"] != before.headers["last-modified"]
        assert used_up.headers["etag"] != before.headers["etag"]
    assert (await api.coupons(holders[0][1]))[0]["status"] == "used_up"

    # The void frees the offer again: pushed, usable, never a 304 for the used-up version.
    api.clock.advance(timedelta(minutes=1))
    void = await api.client.post(f"/api/redemptions/{redeemed.json()['id']}/void", headers=staff)
    assert void.status_code == 200, void.text
    await wait_for(lambda: outbox_settled(api), "the pushes after the void")
    assert sorted(fake_apns.tokens()) == sorted(tokens * 2)
    usable = await api.client.get(latest_url, headers={**auth(data), **validators(used_up)})
    assert usable.status_code == 200
    assert status_of(usable.content) == (False, "Valid")

    # Spent once more, then the marketer raises the limit: usable again, pushed again.
    api.clock.advance(timedelta(minutes=1))
    assert (await api.redeem(staff, spent["code"])).status_code == 201
    await wait_for(lambda: outbox_settled(api), "the pushes after the second redemption")
    again = await api.client.get(latest_url, headers={**auth(data), **validators(usable)})
    assert status_of(again.content) == (True, "Used up")
    api.clock.advance(timedelta(minutes=1))
    raised = await api.client.patch(
        f"/api/campaigns/{campaign['id']}",
        json={"limits": {"max_redemptions": 2}},
        headers=await api.marketer(),
    )
    assert raised.status_code == 200, raised.text
    await wait_for(lambda: outbox_settled(api), "the pushes after the limit was raised")
    assert sorted(fake_apns.tokens()) == sorted(tokens * 4)
    reopened = await api.client.get(latest_url, headers={**auth(data), **validators(again)})
    assert status_of(reopened.content) == (False, "Valid")


async def test_the_owners_other_pass_reads_used_up_once_their_own_limit_is_spent(
    api: Api, fake_apns: FakeApns
) -> None:
    staff = await api.staff()
    customer_id, customer = await api.customer()
    campaign = await api.campaign(limits={"per_customer": 1})
    await api.publish(campaign["id"])
    personal = await api.client.post(
        f"/api/campaigns/{campaign['id']}/coupons",
        json={"customer_id": customer_id, "channel": "email", "message_id": "m-1"},
        headers=await api.marketer(),
    )
    assert personal.status_code == 201, personal.text
    first, second = sorted(await api.coupons(customer), key=lambda coupon: coupon["id"])
    data = pass_json((await api.client.get(second["apple_pass_url"], headers=customer)).content)
    pass_type, serial = data["passTypeIdentifier"], data["serialNumber"]
    path = f"/wallet/apple/v1/devices/d/registrations/{pass_type}/{serial}"
    assert (await api.client.post(path, json={"pushToken": TOKEN_A}, headers=auth(data))).status_code == 201
    latest_url = f"/wallet/apple/v1/passes/{pass_type}/{serial}"
    before = await api.client.get(latest_url, headers=auth(data))
    assert status_of(before.content) == (False, "Valid")

    api.clock.advance(timedelta(minutes=5))
    redeemed = await api.redeem(staff, first["code"])
    assert redeemed.status_code == 201, redeemed.text
    await wait_for(lambda: outbox_settled(api), "the push of the owner's other pass")
    assert fake_apns.tokens() == [TOKEN_A]
    used_up = await api.client.get(latest_url, headers={**auth(data), **validators(before)})
    assert used_up.status_code == 200
    assert status_of(used_up.content) == (True, "Used up")
    assert used_up.headers["last-modified"] == "Mon, 01 Jun 2026 12:05:00 GMT"

    api.clock.advance(timedelta(minutes=1))
    void = await api.client.post(f"/api/redemptions/{redeemed.json()['id']}/void", headers=staff)
    assert void.status_code == 200, void.text
    await wait_for(lambda: outbox_settled(api), "the push after the void")
    assert fake_apns.tokens() == [TOKEN_A, TOKEN_A]
    usable = await api.client.get(latest_url, headers={**auth(data), **validators(used_up)})
    assert usable.status_code == 200
    assert status_of(usable.content) == (False, "Valid")
