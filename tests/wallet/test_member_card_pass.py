"""The member card's wallet passes, checked like coupon passes by tools independent of the code
that builds them (``tests/support/pass_files.py``): the zip against its manifest, the PKCS#7 signature with
OpenSSL (and its failure after a changed byte), pass.json against passkit-generator's schemas in
Node.js, image sizes from the PNG headers; and the Google save link verified with PyJWT against
the service account's public key, its loyalty object carrying the member barcode."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import pytest

from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import parse_member
from tessera.core.settings import DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM, REPOSITORY, Settings
from tessera.members.wallet import HOW_IT_WORKS, display_name, loyalty_object, store_card
from tessera.models.members import MemberCard
from tessera.wallet.apple.dev_certificates import DevelopmentCertificates
from tessera.wallet.apple.pass_builder import ApplePassBuilder
from tessera.wallet.apple.signing import PassSigner
from tessera.wallet.google.loyalty import LoyaltyTemplates
from tessera.wallet.google.service_account import ServiceAccount
from tests.support.api import Api, problem
from tests.support.fixed_values import START
from tests.support.pass_files import (
    ICON_SIZES,
    LOGO_BOXES,
    openssl_verifies,
    png_size,
    strings_of,
    unpacked,
    validator_problems,
)

TEMPLATE = REPOSITORY / "wallet_templates" / "apple" / "storecard.pass"
GOOGLE_TEMPLATES = REPOSITORY / "wallet_templates" / "google"
CODE = CodeKeys("k" * 40).member_code(7)
CARD = MemberCard(customer_id=7, code_digest=b"", created_at=START)
LANGUAGES = ("en.lproj", "de.lproj", "it.lproj")


@pytest.fixture(scope="module")
def builder(pass_certificates: DevelopmentCertificates) -> ApplePassBuilder:
    signer = PassSigner(pass_certificates.cert_path, pass_certificates.key_path, pass_certificates.wwdr_path)
    return ApplePassBuilder(TEMPLATE, signer, DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM, "Tessera")


def fields(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {field["key"]: field for group in data["storeCard"].values() for field in group}


def check_independently(pkpass: bytes, folder: Path, ca: Path) -> dict[str, Any]:
    """Everything test_apple_pass_files checks of a coupon pass, for one store card; its pass.json."""
    files = unpacked(pkpass, folder)
    manifest = json.loads(files["manifest.json"])
    assert set(files) == set(manifest) | {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest, name  # noqa: S324 (Apple's format)
    assert openssl_verifies(folder, ca)
    for name, index in (("manifest.json", 10), ("signature", -20)):
        changed = bytearray(files[name])
        changed[index] ^= 0x01
        (folder / name).write_bytes(bytes(changed))
        assert not openssl_verifies(folder, ca), name
        (folder / name).write_bytes(files[name])
    for name, size in {**ICON_SIZES, **LOGO_BOXES}.items():
        assert png_size(files[name]) == size, name
    data: dict[str, Any] = json.loads(files["pass.json"])
    assert validator_problems(data, folder) == []
    return data


@pytest.mark.parametrize("name", ["Ada Augusta Lovelace", None], ids=["named", "anonymous"])
def test_the_store_card_passes_the_independent_checks(
    builder: ApplePassBuilder, pass_certificates: DevelopmentCertificates, tmp_path: Path, name: str | None
) -> None:
    pkpass = builder.build(store_card(Settings(), CARD, CODE, name))
    data = check_independently(pkpass, tmp_path, pass_certificates.wwdr_path)
    assert "coupon" not in data
    assert data["barcodes"] == [
        {
            "format": "PKBarcodeFormatQR",
            "message": f"TSM1:A:{CODE}",
            "messageEncoding": "iso-8859-1",
            "altText": "-".join(CODE[i : i + 4] for i in range(0, len(CODE), 4)),
        }
    ]
    assert parse_member(data["barcodes"][0]["message"]).medium == "apple_wallet"
    # A member card never changes and never ends: no web service, no expiry, never voided.
    for absent in ("webServiceURL", "authenticationToken", "expirationDate", "voided", "barcode"):
        assert absent not in data
    assert data["serialNumber"] == "member-7"
    by_key = fields(data)
    assert by_key["title"]["value"] == "Member card"
    assert by_key["code"]["value"] == data["barcodes"][0]["altText"]
    assert datetime.fromisoformat(by_key["since"]["value"]) == START
    assert by_key["details"]["value"] == HOW_IT_WORKS
    if name is None:
        assert "member" not in by_key
    else:
        assert by_key["member"]["value"] == "Ada L."


def test_the_template_images_have_apple_sizes_and_every_text_is_translated(builder: ApplePassBuilder) -> None:
    for name, size in {**ICON_SIZES, **LOGO_BOXES}.items():
        assert png_size((TEMPLATE / name).read_bytes()) == size, name
    data = json.loads(unpacked(builder.build(store_card(Settings(), CARD, CODE, "Ada")))["pass.json"])
    shown = {field["label"] for field in fields(data).values()} | {
        data["description"],
        fields(data)["title"]["value"],
        fields(data)["details"]["value"],
    }
    for folder in LANGUAGES:
        strings = strings_of((TEMPLATE / folder / "pass.strings").read_bytes())
        assert shown <= set(strings), (folder, shown - set(strings))
        assert all(strings.values())
    italian = strings_of((TEMPLATE / "it.lproj" / "pass.strings").read_bytes())
    assert italian["Member card"] == "Tessera socio"


def test_a_pass_without_a_web_service_needs_no_token_and_refuses_half_of_one() -> None:
    content = store_card(Settings(), CARD, CODE, None)
    with pytest.raises(ValueError, match="go together"):
        replace(content, web_service_url="https://example.com/wallet/apple")
    with pytest.raises(ValueError, match="go together"):
        replace(content, authentication_token="t" * 43)


def test_display_names_keep_little() -> None:
    assert display_name("Ada Augusta Lovelace") == "Ada L."
    assert display_name("  grace   hopper ") == "grace H."
    assert display_name("Cher") == "Cher"
    assert display_name("") is None
    assert display_name(None) is None


def test_the_loyalty_templates_are_checked(tmp_path: Path) -> None:
    templates = LoyaltyTemplates.load(GOOGLE_TEMPLATES)
    content = loyalty_object(Settings(), CARD, CODE, None)
    assert "accountName" not in templates.loyalty_object(content)
    for case, (name, change) in enumerate(
        [
            ("loyalty_object.json", {"nickname": "$nickname"}),
            ("loyalty_object.json", {"barcode": {"type": "QR_CODE", "value": "fixed"}}),
            ("loyalty_class.json", {"id": "fixed"}),
        ]
    ):
        folder = tmp_path / str(case)
        folder.mkdir()
        for each in ("loyalty_class.json", "loyalty_object.json"):
            template = json.loads((GOOGLE_TEMPLATES / each).read_text())
            if each == name:
                template.update(change)
            (folder / each).write_text(json.dumps(template))
        with pytest.raises(ValueError, match=name):
            LoyaltyTemplates.load(folder)


# --- through HTTP ---------------------------------------------------------------------------------


async def test_the_downloaded_store_card_passes_the_same_checks_and_its_barcode_finds_the_member(
    api: Api, pass_certificates: DevelopmentCertificates, tmp_path: Path
) -> None:
    customer_id, customer = await api.customer(name="Ada Lovelace")
    card = (await api.client.get("/api/me/card", headers=customer)).json()
    response = await api.client.get(card["apple_pass_url"], headers=customer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apple.pkpass"
    assert 'filename="member-card.pkpass"' in response.headers["content-disposition"]
    data = check_independently(response.content, tmp_path, pass_certificates.wwdr_path)
    assert data["passTypeIdentifier"] == DEVELOPMENT_PASS_TYPE
    [barcode] = data["barcodes"]
    assert barcode["message"] == f"TSM1:A:{card['member_code']}"
    assert fields(data)["member"]["value"] == "Ada L."

    staff = await api.staff()
    found = await api.client.post("/api/members/lookup", json={"code": barcode["message"]}, headers=staff)
    assert found.status_code == 200, found.text
    assert found.json()["medium"] == "apple_wallet"
    rows = await api.sql(
        "SELECT customer_id, medium, coupon_id FROM events WHERE type = 'member_card_downloaded'"
    )
    assert [tuple(row) for row in rows] == [(customer_id, "apple_wallet", None)]
    assert (await api.sql("SELECT count(*) FROM events WHERE type = 'pass_downloaded'"))[0][0] == 0
    problem(await api.client.get(card["apple_pass_url"], headers=staff), 403, "forbidden")


async def test_the_google_save_link_verifies_and_carries_the_member_barcode(
    api: Api, settings: Settings
) -> None:
    customer_id, customer = await api.customer(name="Grace Hopper")
    card = (await api.client.get("/api/me/card", headers=customer)).json()
    response = await api.client.get(card["google_wallet_url"], headers=customer)
    assert response.status_code == 200, response.text
    url = response.json()["save_url"]
    assert url.startswith("https://pay.google.com/gp/v/save/")
    token = url.removeprefix("https://pay.google.com/gp/v/save/")
    account = ServiceAccount.from_file(Path(str(settings.google.service_account_path)))
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": account.private_key_id, "typ": "JWT"}
    claims = jwt.decode(
        token,
        key=account.public_key(),
        algorithms=["RS256"],
        audience="google",
        issuer=account.client_email,
        options={"require": ["iss", "aud", "iat"]},
    )
    assert claims["typ"] == "savetowallet"
    assert claims["iat"] == int(api.clock.now().timestamp())
    assert claims["origins"] == [settings.public_url]
    assert set(claims["payload"]) == {"loyaltyClasses", "loyaltyObjects"}
    [loyalty_class] = claims["payload"]["loyaltyClasses"]
    [member] = claims["payload"]["loyaltyObjects"]
    issuer = settings.google.issuer_id
    assert member == {
        "id": f"{issuer}.member-{customer_id}",
        "classId": f"{issuer}.member-card",
        "state": "ACTIVE",
        "accountId": card["code_display"],
        "accountName": "Grace H.",
        "barcode": {
            "type": "QR_CODE",
            "value": f"TSM1:G:{card['member_code']}",
            "alternateText": card["code_display"],
        },
    }
    assert loyalty_class["id"] == member["classId"]
    assert loyalty_class["programName"] == "Tessera · Member card"
    assert loyalty_class["programLogo"] == {"sourceUri": {"uri": f"{settings.public_url}/icons/icon-192.png"}}
    assert loyalty_class["reviewStatus"] == "UNDER_REVIEW"
    assert {"language": "it", "value": "Numero socio"} in loyalty_class["localizedAccountIdLabel"][
        "translatedValues"
    ]
    logo = await api.client.get("/icons/icon-192.png")
    assert logo.status_code == 200
    assert logo.headers["content-type"] == "image/png"

    staff = await api.staff()
    found = await api.client.post(
        "/api/members/lookup", json={"code": member["barcode"]["value"]}, headers=staff
    )
    assert found.json()["medium"] == "google_wallet"
    rows = await api.sql("SELECT customer_id, medium FROM events WHERE type = 'member_card_downloaded'")
    assert [tuple(row) for row in rows] == [(customer_id, "google_wallet")]
    # One changed character of the signature, and it no longer verifies.
    head, body, signature = token.split(".")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            f"{head}.{body}.{flipped}", key=account.public_key(), algorithms=["RS256"], audience="google"
        )
