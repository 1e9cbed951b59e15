"""Google Wallet: save links (JWT), signed save/delete callbacks, and the REST client against
a local fake of Google's token endpoint and Wallet API."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, get_args

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.core.clock import FrozenClock
from tessera.offers.refusals import CouponStatus
from tessera.wallet.google.api import (
    HttpGoogleWalletApi,
    PermanentWalletApiError,
    TransientWalletApiError,
)
from tessera.wallet.google.callbacks import (
    CallbackMessage,
    CallbackVerifier,
    InvalidCallback,
    RootKey,
    load_root_keys,
)
from tessera.wallet.google.dev_keys import make_development_service_account
from tessera.wallet.google.objects import (
    OFFER_STATES,
    STATES,
    LocalizedTexts,
    OfferContent,
    OfferTemplates,
    class_id,
    object_id,
)
from tessera.wallet.google.save_link import save_url
from tessera.wallet.google.service_account import ServiceAccount
from tests.fakes.google import FakeGoogle, running_fake_google
from tests.fakes.google_signing import GoogleSigner, callback_message, spki_base64
from tests.support.asgi import free_port

TEMPLATES = Path(__file__).resolve().parents[2] / "wallet_templates" / "google"
ISSUER = "3388000000000000000"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def content(**changes: Any) -> OfferContent:
    base = OfferContent(
        issuer_id=ISSUER,
        campaign_id=7,
        coupon_id=42,
        issuer_name="Café Tessera",
        provider="Café Tessera",
        title="Summer coffee",
        details="Any hot drink",
        terms="One per visit",
        discount_text="20% off",
        background_color="#1A2B3C",
        logo_url="https://example.com/logo.png",
        callback_url="https://tessera.example/wallet/google/callback",
        barcode_value="TSR1:G:ABCD2345EFGH",
        barcode_alt_text="ABCD-2345-EFGH",
        valid_from=NOW,
        valid_until=NOW + timedelta(days=30),
        state="ACTIVE",
    )
    return replace(base, **changes)


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> ServiceAccount:
    path = make_development_service_account(tmp_path_factory.mktemp("google") / "account.json")
    return ServiceAccount.from_file(path)


@pytest.fixture(scope="module")
def templates() -> OfferTemplates:
    return OfferTemplates.load(TEMPLATES)


# --- save links ---------------------------------------------------------------------------


def test_save_link_is_a_jwt_google_accepts(account: ServiceAccount, templates: OfferTemplates) -> None:
    offer = content()
    url = save_url(
        account,
        templates.offer_class(offer),
        templates.offer_object(offer),
        ["https://tessera.example"],
        NOW,
    )

    assert url.startswith("https://pay.google.com/gp/v/save/")
    token = url.removeprefix("https://pay.google.com/gp/v/save/")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == account.private_key_id
    claims = jwt.decode(
        token,
        key=account.public_key(),
        algorithms=["RS256"],
        audience="google",
        issuer=account.client_email,
        options={"require": ["iss", "aud", "iat"]},
    )
    assert claims["typ"] == "savetowallet"
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["origins"] == ["https://tessera.example"]
    assert set(claims["payload"]) == {"offerClasses", "offerObjects"}
    [offer_class] = claims["payload"]["offerClasses"]
    [offer_object] = claims["payload"]["offerObjects"]
    assert offer_class == {
        "id": f"{ISSUER}.campaign-7",
        "issuerName": "Café Tessera",
        "provider": "Café Tessera",
        "title": "Summer coffee",
        "shortTitle": "20% off",
        "details": "Any hot drink",
        "finePrint": "One per visit",
        "titleImage": {"sourceUri": {"uri": "https://example.com/logo.png"}},
        "hexBackgroundColor": "#1A2B3C",
        "redemptionChannel": "INSTORE",
        "reviewStatus": "UNDER_REVIEW",
        "callbackOptions": {"url": "https://tessera.example/wallet/google/callback"},
    }
    assert offer_object == {
        "id": f"{ISSUER}.coupon-42",
        "classId": f"{ISSUER}.campaign-7",
        "state": "ACTIVE",
        "barcode": {"type": "QR_CODE", "value": "TSR1:G:ABCD2345EFGH", "alternateText": "ABCD-2345-EFGH"},
        "validTimeInterval": {
            "start": {"date": "2026-06-01T12:00:00Z"},
            "end": {"date": "2026-07-01T12:00:00Z"},
        },
    }


def test_a_save_link_signed_by_another_key_does_not_verify(
    account: ServiceAccount, templates: OfferTemplates, tmp_path: Path
) -> None:
    other = ServiceAccount.from_file(make_development_service_account(tmp_path / "other.json"))
    offer = content()
    url = save_url(other, templates.offer_class(offer), templates.offer_object(offer), [], NOW)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(url.rsplit("/", 1)[1], key=account.public_key(), algorithms=["RS256"], audience="google")


def test_parts_without_a_value_are_left_out(templates: OfferTemplates) -> None:
    offer = content(logo_url=None, background_color=None, details="", terms=None, barcode_alt_text=None)
    offer_class = templates.offer_class(offer)
    assert "titleImage" not in offer_class
    assert "hexBackgroundColor" not in offer_class
    assert "details" not in offer_class
    assert "finePrint" not in offer_class
    assert "localizedTitle" not in offer_class
    assert templates.offer_object(offer)["barcode"] == {"type": "QR_CODE", "value": "TSR1:G:ABCD2345EFGH"}


def test_translations_become_localized_strings(templates: OfferTemplates) -> None:
    offer = content(
        language="en",
        translations=(LocalizedTexts("de", title="Sommerkaffee", terms="Einmal pro Besuch"),),
    )
    offer_class = templates.offer_class(offer)
    assert offer_class["localizedTitle"] == {
        "defaultValue": {"language": "en", "value": "Summer coffee"},
        "translatedValues": [{"language": "de", "value": "Sommerkaffee"}],
    }
    assert offer_class["localizedFinePrint"]["translatedValues"] == [
        {"language": "de", "value": "Einmal pro Besuch"}
    ]
    assert "localizedDetails" not in offer_class


def test_the_object_state_follows_the_coupon(templates: OfferTemplates) -> None:
    assert templates.offer_object(content(state="COMPLETED"))["state"] == "COMPLETED"
    with pytest.raises(ValueError, match="state"):
        content(state="REDEEMED")
    with pytest.raises(ValueError, match="RRGGBB"):
        content(background_color="red")
    with pytest.raises(ValueError, match="aware"):
        content(valid_until=datetime(2026, 7, 1))  # noqa: DTZ001 - the naive datetime is the point


def test_every_status_an_owner_is_shown_has_an_object_state() -> None:
    assert set(OFFER_STATES) == set(get_args(CouponStatus))
    assert set(OFFER_STATES.values()) <= STATES
    assert OFFER_STATES["used_up"] == "INACTIVE"


def test_ids_are_prefixed_by_the_issuer_and_restricted() -> None:
    assert class_id(ISSUER, 7) == f"{ISSUER}.campaign-7"
    assert object_id(ISSUER, "x_1.2-3") == f"{ISSUER}.coupon-x_1.2-3"
    with pytest.raises(ValueError, match="suffix"):
        object_id(ISSUER, "a b")
    with pytest.raises(ValueError, match="issuer"):
        class_id("", 7)
    with pytest.raises(ValueError, match="issuer"):
        class_id("3388.evil", 7)


def test_templates_with_unknown_placeholders_are_refused(tmp_path: Path) -> None:
    (tmp_path / "offer_class.json").write_text(json.dumps({"id": "$class_id", "title": "$titel"}))
    (tmp_path / "offer_object.json").write_text((TEMPLATES / "offer_object.json").read_text())
    with pytest.raises(ValueError, match="titel"):
        OfferTemplates.load(tmp_path)


def test_development_service_account_is_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "dev" / "account.json"
    assert make_development_service_account(path, token_uri="http://127.0.0.1:9/token") == path
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    make_development_service_account(path)
    assert path.read_text() == first
    account = ServiceAccount.from_file(path)
    assert account.client_email == "tessera-dev@tessera.invalid"
    assert account.token_uri == "http://127.0.0.1:9/token"
    assert account.private_key.key_size == 2048
    assert [p.name for p in path.parent.iterdir()] == ["account.json"]  # no temporary left


def test_a_broken_service_account_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_text(json.dumps({"client_email": "a@b.c", "private_key_id": "1", "private_key": "nope"}))
    with pytest.raises(ValueError, match="private_key"):
        ServiceAccount.from_file(path)


# --- callbacks ----------------------------------------------------------------------------

SIGNER = GoogleSigner()
KEY_EXPIRES = NOW + timedelta(days=7)
MESSAGE_EXPIRES = NOW + timedelta(minutes=5)
SAVE = callback_message(f"{ISSUER}.campaign-7", f"{ISSUER}.coupon-42", "save", "nonce-1", MESSAGE_EXPIRES)
VERIFIER = CallbackVerifier(ISSUER, [RootKey(SIGNER.root.public_key(), NOW + timedelta(days=365))])


def signed(message: dict[str, Any] | str = SAVE, **options: Any) -> bytes:
    options.setdefault("intermediate_expires_at", KEY_EXPIRES)
    return SIGNER.callback_body(ISSUER, message, **options)


def test_a_signed_callback_is_accepted(tmp_path: Path) -> None:
    root_keys = load_root_keys(SIGNER.write_root_keys(tmp_path / "keys.json", NOW + timedelta(days=365)))
    verifier = CallbackVerifier(ISSUER, root_keys)

    message = verifier.verify(signed(), NOW)

    assert message == CallbackMessage(
        class_id=f"{ISSUER}.campaign-7",
        object_id=f"{ISSUER}.coupon-42",
        event_type="save",
        nonce="nonce-1",
        expires_at=MESSAGE_EXPIRES,
    )
    delete = {**SAVE, "eventType": "del", "nonce": "nonce-2"}
    assert verifier.verify(signed(delete), NOW).event_type == "del"


def test_any_root_key_of_the_file_may_have_signed(tmp_path: Path) -> None:
    """Google rotates keys: an older key and keys of other protocols sit in the same file."""
    older = GoogleSigner()
    also = [
        {"keyValue": spki_base64(older.root.public_key()), "protocolVersion": "ECv2SigningOnly",
         "keyExpiration": str(int((NOW + timedelta(days=1)).timestamp() * 1000))},
        {"keyValue": "not even base64 but ECv1", "protocolVersion": "ECv1"},
    ]  # fmt: skip
    path = SIGNER.write_root_keys(tmp_path / "keys.json", NOW + timedelta(days=365), also=also)
    verifier = CallbackVerifier(ISSUER, load_root_keys(path))
    assert verifier.verify(signed(), NOW).nonce == "nonce-1"
    assert verifier.verify(signed(root=older.root), NOW).nonce == "nonce-1"


def _tampered_message() -> bytes:
    return signed(signed_message_override=json.dumps({**SAVE, "eventType": "del"}))


def _tampered_key() -> bytes:
    stranger = ec.generate_private_key(ec.SECP256R1())
    key = json.dumps({"keyValue": spki_base64(stranger.public_key()), "keyExpiration": "99999999999999"})
    return signed(signed_key_override=key)


def _with_envelope(change: Callable[[dict[str, Any]], None]) -> bytes:
    body = json.loads(signed())
    change(body)
    return json.dumps(body).encode()


REFUSED: dict[str, Callable[[], bytes]] = {
    "tampered signedMessage": _tampered_message,
    "tampered signedKey": _tampered_key,
    "wrong root": lambda: signed(root=ec.generate_private_key(ec.SECP256R1())),
    "expired intermediate key": lambda: signed(intermediate_expires_at=NOW - timedelta(seconds=1)),
    "intermediate key expiring now": lambda: signed(intermediate_expires_at=NOW),
    "expired message": lambda: signed({**SAVE, "expTimeMillis": str(int(NOW.timestamp() * 1000) - 1)}),
    "message without expiry": lambda: signed({k: v for k, v in SAVE.items() if k != "expTimeMillis"}),
    "signed for another issuer": lambda: SIGNER.callback_body(
        "3388000000000000001", SAVE, intermediate_expires_at=KEY_EXPIRES
    ),
    "another sender": lambda: signed(sender_id="Google"),
    "wrong protocolVersion": lambda: signed(protocol_version="ECv2"),
    "protocolVersion changed after signing": lambda: _with_envelope(
        lambda body: body.update(protocolVersion="ECv1")
    ),
    "extra envelope field": lambda: _with_envelope(lambda body: body.update(extra=1)),
    "missing signature": lambda: _with_envelope(lambda body: body.pop("signature")),
    "signature not base64": lambda: _with_envelope(lambda body: body.update(signature="@@@")),
    "no key signatures": lambda: _with_envelope(
        lambda body: body["intermediateSigningKey"].update(signatures=[])
    ),
    "unknown eventType": lambda: signed({**SAVE, "eventType": "update"}),
    "object of another issuer": lambda: signed({**SAVE, "objectId": "1234.coupon-42"}),
    "empty nonce": lambda: signed({**SAVE, "nonce": ""}),
    "overlong nonce": lambda: signed({**SAVE, "nonce": "n" * 201}),
    "message not JSON": lambda: signed("save it"),
    "garbage": lambda: b"\x00\xff garbage",
    "empty body": lambda: b"",
    "JSON array": lambda: b"[]",
    "deeply nested": lambda: b'{"x": ' + b"[" * 60_000,
    "huge body": lambda: b" " * 70_000 + signed(),
}


@pytest.mark.parametrize("make_body", REFUSED.values(), ids=REFUSED.keys())
def test_a_bad_callback_is_refused(make_body: Callable[[], bytes]) -> None:
    with pytest.raises(InvalidCallback):
        VERIFIER.verify(make_body(), NOW)


def test_an_expired_root_key_no_longer_counts() -> None:
    verifier = CallbackVerifier(ISSUER, [RootKey(SIGNER.root.public_key(), NOW)])
    with pytest.raises(InvalidCallback, match="root"):
        verifier.verify(signed(), NOW)


def test_root_key_files_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [{"keyValue": "AAAA", "protocolVersion": "ECv1"}]}))
    with pytest.raises(ValueError, match="no ECv2SigningOnly key"):
        load_root_keys(path)
    path.write_text(json.dumps({"keys": [{"keyValue": "AAAA", "protocolVersion": "ECv2SigningOnly"}]}))
    with pytest.raises(ValueError, match="key 0"):
        load_root_keys(path)
    path.write_text("[]")
    with pytest.raises(ValueError, match="keys"):
        load_root_keys(path)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=20,
)
ENVELOPE_VALUES = st.one_of(JSON, st.text(alphabet="ABCDEFabcdef0123456789+/=", max_size=120))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_only_ever_raise_invalid_callback(body: bytes) -> None:
    with pytest.raises(InvalidCallback):
        VERIFIER.verify(body, NOW)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "signature": ENVELOPE_VALUES,
            "signedMessage": ENVELOPE_VALUES,
            "protocolVersion": st.sampled_from(["ECv2SigningOnly", "ECv2"]) | JSON,
            "intermediateSigningKey": st.fixed_dictionaries(
                {},
                optional={"signedKey": ENVELOPE_VALUES, "signatures": st.lists(ENVELOPE_VALUES, max_size=3)},
            )
            | JSON,
        },
    )
)
def test_arbitrary_envelopes_only_ever_raise_invalid_callback(envelope: dict[str, Any]) -> None:
    with pytest.raises(InvalidCallback):
        VERIFIER.verify(json.dumps(envelope).encode(), NOW)


VALID_BODY = signed()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(VALID_BODY) - 1), st.integers(min_value=1, max_value=255))
def test_a_changed_byte_is_refused_or_harmless(position: int, flip: int) -> None:
    body = bytearray(VALID_BODY)
    body[position] ^= flip
    try:
        message = VERIFIER.verify(bytes(body), NOW)
    except InvalidCallback:
        return
    # Only changes outside what is signed survive, e.g. one JSON whitespace for another.
    assert message == VERIFIER.verify(VALID_BODY, NOW)


# --- the REST client against a local fake of Google -------------------------------------------


@pytest.fixture
async def google(tmp_path: Path) -> AsyncIterator[FakeGoogle]:
    async with running_fake_google(tmp_path) as fake:
        yield fake


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
async def api(google: FakeGoogle, clock: FrozenClock) -> AsyncIterator[HttpGoogleWalletApi]:
    client = HttpGoogleWalletApi(google.url, google.account, clock=clock)
    try:
        yield client
    finally:
        await client.aclose()


OBJECT = f"{ISSUER}.coupon-42"


async def test_a_state_change_reaches_google_with_one_token(
    api: HttpGoogleWalletApi, google: FakeGoogle
) -> None:
    await api.set_object_state(OBJECT, "COMPLETED")
    assert google.states == {OBJECT: "COMPLETED"}
    await api.set_object_state(f"{ISSUER}.coupon-43", "EXPIRED")
    assert google.states[f"{ISSUER}.coupon-43"] == "EXPIRED"
    assert google.token_requests == 1
    assert google.used_tokens == ["ya29.fake-1", "ya29.fake-1"]


async def test_the_token_is_renewed_before_it_expires(
    api: HttpGoogleWalletApi, google: FakeGoogle, clock: FrozenClock
) -> None:
    await api.set_object_state(OBJECT, "COMPLETED")
    clock.advance(timedelta(seconds=google.expires_in - 120))
    await api.set_object_state(OBJECT, "COMPLETED")
    assert google.token_requests == 1
    clock.advance(timedelta(seconds=61))  # within the last minute of its life
    await api.set_object_state(OBJECT, "COMPLETED")
    assert google.token_requests == 2
    assert google.used_tokens[-1] == "ya29.fake-2"


async def test_concurrent_calls_share_one_token_request(api: HttpGoogleWalletApi, google: FakeGoogle) -> None:
    await asyncio.gather(*(api.set_object_state(f"{ISSUER}.coupon-{n}", "COMPLETED") for n in range(8)))
    assert len(google.states) == 8
    assert google.token_requests == 1


async def test_a_revoked_token_is_replaced_once(api: HttpGoogleWalletApi, google: FakeGoogle) -> None:
    await api.set_object_state(OBJECT, "ACTIVE")
    google.revoke_tokens()
    await api.set_object_state(OBJECT, "COMPLETED")
    assert google.states == {OBJECT: "COMPLETED"}
    assert google.token_requests == 2
    assert google.used_tokens == ["ya29.fake-1", "ya29.fake-1", "ya29.fake-2"]


async def test_a_second_401_is_transient(api: HttpGoogleWalletApi, google: FakeGoogle) -> None:
    google.answers = [(401, {}), (401, {})]
    with pytest.raises(TransientWalletApiError, match="401"):
        await api.set_object_state(OBJECT, "COMPLETED")
    assert google.token_requests == 2


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (500, {}, None),
        (503, {"Retry-After": "120"}, 120.0),
        (429, {"Retry-After": "7"}, 7.0),
        (429, {"Retry-After": format_datetime(NOW + timedelta(seconds=30), usegmt=True)}, 30.0),
    ],
)
async def test_throttling_and_server_errors_are_transient(
    api: HttpGoogleWalletApi,
    google: FakeGoogle,
    status: int,
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    google.answers = [(status, headers)]
    with pytest.raises(TransientWalletApiError) as caught:
        await api.set_object_state(OBJECT, "COMPLETED")
    assert caught.value.retry_after == retry_after
    assert str(status) in str(caught.value)
    assert google.states == {}


@pytest.mark.parametrize("status", [400, 403, 404])
async def test_other_refusals_are_permanent(
    api: HttpGoogleWalletApi, google: FakeGoogle, status: int
) -> None:
    google.answers = [(status, {})]
    with pytest.raises(PermanentWalletApiError, match=f"scripted {status}") as caught:
        await api.set_object_state(OBJECT, "COMPLETED")
    assert caught.value.status == status


async def test_an_unreachable_api_is_transient(google: FakeGoogle) -> None:
    api = HttpGoogleWalletApi(f"http://127.0.0.1:{free_port()}", google.account)
    try:
        with pytest.raises(TransientWalletApiError, match="unreachable"):
            await api.set_object_state(OBJECT, "COMPLETED")
    finally:
        await api.aclose()


async def test_a_refused_assertion_is_transient(google: FakeGoogle, tmp_path: Path) -> None:
    """A key Google does not know is a setup problem: changes wait for the operator to fix it."""
    stranger = ServiceAccount.from_file(
        make_development_service_account(tmp_path / "stranger.json", token_uri=google.account.token_uri)
    )
    api = HttpGoogleWalletApi(google.url, stranger)
    try:
        with pytest.raises(TransientWalletApiError, match="400"):
            await api.set_object_state(OBJECT, "COMPLETED")
    finally:
        await api.aclose()
    assert google.states == {}


async def test_an_unknown_state_is_a_programming_error(api: HttpGoogleWalletApi) -> None:
    with pytest.raises(ValueError, match="state"):
        await api.set_object_state(OBJECT, "REDEEMED")
