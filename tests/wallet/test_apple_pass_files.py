"""Signed Apple passes, checked by tools independent of the code that builds them: the zip
against its manifest (hashlib), the PKCS#7 signature and the certificates with OpenSSL, pass.json
with passkit-generator's schemas (Node.js), image sizes from the PNG headers (struct + zlib)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image
from py_pkpass.models import Barcode, BarcodeFormat, Coupon, Location, Pass

from tessera.core.errors import ConfigurationError
from tessera.core.settings import DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM, REPOSITORY
from tessera.wallet.apple.dev_certificates import DevelopmentCertificates, make_development_certificates
from tessera.wallet.apple.pass_builder import ApplePassBuilder, PassContent
from tessera.wallet.apple.signing import PassSigner
from tests.support.pass_files import (
    ICON_SIZES,
    LOGO_BOXES,
    openssl,
    openssl_verifies,
    pass_json,
    png_size,
    strings_of,
    unpacked,
    validator_command,
    validator_problems,
)

TEMPLATE = REPOSITORY / "wallet_templates" / "apple" / "coupon.pass"
RGB = re.compile(r"^rgb\((\d{1,3}), (\d{1,3}), (\d{1,3})\)$")
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
CONTENT = PassContent(
    serial_number="42",
    authentication_token="t" * 43,
    web_service_url="https://coupons.example.com/wallet/apple",
    description="20% off everything",
    organization_name="Tessera",
    logo_text="Tessera",
    title="Spring sale",
    discount_text="20% off",
    expires_at=datetime(2026, 6, 8, 12, 0, tzinfo=UTC),
    status="active",
    barcode_message="TSR1:A:ABCD2345EFGH678",
    barcode_alt_text="ABCD-2345-EFGH-678",
    details="On everything in store",
    terms="One per visit",
    locations=((47.4979, 19.0402, "Budapest store"),),
    background_color="#123456",
    texts={"de": {"title": "Frühlingsrabatt"}, "fr": {"terms": "Un par visite"}},
)


@pytest.fixture(scope="module")
def signer(pass_certificates: DevelopmentCertificates) -> PassSigner:
    return PassSigner(pass_certificates.cert_path, pass_certificates.key_path, pass_certificates.wwdr_path)


@pytest.fixture(scope="module")
def builder(signer: PassSigner) -> ApplePassBuilder:
    return ApplePassBuilder(TEMPLATE, signer, DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM, "Tessera")


def fields(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {field["key"]: field for group in data["coupon"].values() for field in group}


# --- the archive and its signature ---------------------------------------------------------------


def test_the_zip_holds_exactly_the_manifest_files_with_their_sha1(builder: ApplePassBuilder) -> None:
    files = unpacked(builder.build(CONTENT))
    manifest = json.loads(files["manifest.json"])
    assert set(files) == set(manifest) | {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest, name  # noqa: S324 (Apple's format)
    assert {"pass.json", *ICON_SIZES, *LOGO_BOXES} <= set(manifest)


def test_the_signature_verifies_with_openssl_and_fails_when_a_byte_changes(
    builder: ApplePassBuilder, pass_certificates: DevelopmentCertificates, tmp_path: Path
) -> None:
    files = unpacked(builder.build(CONTENT), tmp_path)
    assert openssl_verifies(tmp_path, pass_certificates.wwdr_path)
    for name, index in (("manifest.json", 10), ("signature", -20)):
        changed = bytearray(files[name])
        changed[index] ^= 0x01
        (tmp_path / name).write_bytes(bytes(changed))
        assert not openssl_verifies(tmp_path, pass_certificates.wwdr_path), name
        (tmp_path / name).write_bytes(files[name])
    assert openssl_verifies(tmp_path, pass_certificates.wwdr_path)


def test_the_signature_is_detached_sha256_and_carries_the_wwdr_certificate(
    builder: ApplePassBuilder, tmp_path: Path
) -> None:
    unpacked(builder.build(CONTENT), tmp_path)
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", str(tmp_path / "signature"))
    assert printed.returncode == 0, printed.stderr
    assert "eContent: <ABSENT>" in printed.stdout
    assert "sha256" in printed.stdout
    certificates = openssl("pkcs7", "-inform", "DER", "-in", str(tmp_path / "signature"), "-print_certs")
    subjects = [line for line in certificates.stdout.splitlines() if line.startswith("subject=")]
    assert len(subjects) == 2
    assert any("Tessera Development WWDR (not Apple)" in subject for subject in subjects)
    assert any(f"UID = {DEVELOPMENT_PASS_TYPE}" in subject for subject in subjects)


def test_the_signature_does_not_verify_against_another_ca(
    builder: ApplePassBuilder, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    unpacked(builder.build(CONTENT), tmp_path)
    stranger = make_development_certificates(tmp_path_factory.mktemp("other"), DEVELOPMENT_PASS_TYPE, "OTHER")
    assert not openssl_verifies(tmp_path, stranger.wwdr_path)


def test_builds_differ_only_in_the_signature(builder: ApplePassBuilder) -> None:
    first, second = builder.build(CONTENT), builder.build(CONTENT)
    one, two = unpacked(first), unpacked(second)
    assert one.keys() == two.keys()
    assert {name for name in one if one[name] != two[name]} <= {"signature"}
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_threads_share_one_builder(
    builder: ApplePassBuilder, pass_certificates: DevelopmentCertificates, tmp_path: Path
) -> None:
    contents = [replace(CONTENT, serial_number=str(serial)) for serial in range(12)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        passes = list(pool.map(builder.build, contents))
    for serial, pkpass in enumerate(passes):
        folder = tmp_path / str(serial)
        files = unpacked(pkpass, folder)
        assert json.loads(files["pass.json"])["serialNumber"] == str(serial)
        assert openssl_verifies(folder, pass_certificates.wwdr_path)


# --- pass.json, by passkit-generator's schemas ---------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        CONTENT,
        replace(CONTENT, status="redeemed", redeemed_at=datetime(2026, 5, 1, 9, 30, tzinfo=UTC)),
        replace(CONTENT, status="expired"),
        replace(CONTENT, status="revoked"),
        replace(CONTENT, status="used_up"),
        replace(CONTENT, expiring_soon=True),
        replace(CONTENT, details="", terms="", locations=(), background_color=None, texts={}),
    ],
    ids=["active", "redeemed", "expired", "revoked", "used_up", "expiring", "minimal"],
)
def test_pass_json_passes_the_strict_validator(
    builder: ApplePassBuilder, tmp_path: Path, content: PassContent
) -> None:
    assert validator_problems(pass_json(builder.build(content)), tmp_path) == []


def test_the_validator_refuses_what_py_pkpass_writes_as_shipped(tmp_path: Path) -> None:
    """The validator has teeth, and each of the builder's workarounds is needed."""
    shipped = Pass(
        Coupon(), passTypeIdentifier=DEVELOPMENT_PASS_TYPE, teamIdentifier="T", organizationName="O"
    )
    shipped.serialNumber, shipped.description = "1", "Coupon"
    shipped.passInformation.addPrimaryField("offer", "20% off", "Discount")
    shipped.barcode = Barcode("CODE", format=BarcodeFormat.QR)
    shipped.locations = [Location(47.5, 19.0)]
    problems = "\n".join(validator_problems(json.loads(shipped._createPassJson()), tmp_path))
    assert "changeMessage" in problems
    assert '"barcode" is not allowed' in problems
    assert "distance" in problems
    assert validator_problems({"formatVersion": 1, "coupon": {}}, tmp_path) != []


def test_missing_validator_tools_fail_in_ci_and_skip_elsewhere(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="npm ci"):
        validator_command(tmp_path, in_ci=True)
    with pytest.raises(pytest.skip.Exception, match="npm ci"):
        validator_command(tmp_path, in_ci=False)


# --- what the pass says ----------------------------------------------------------------------------


def test_pass_json_content(builder: ApplePassBuilder) -> None:
    data = pass_json(builder.build(CONTENT))
    assert data["formatVersion"] == 1
    assert (data["passTypeIdentifier"], data["teamIdentifier"]) == (DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM)
    assert (data["serialNumber"], data["organizationName"], data["logoText"]) == ("42", "Tessera", "Tessera")
    assert data["barcodes"] == [
        {
            "format": "PKBarcodeFormatQR",
            "message": "TSR1:A:ABCD2345EFGH678",
            "messageEncoding": "iso-8859-1",
            "altText": "ABCD-2345-EFGH-678",
        }
    ]
    assert "barcode" not in data
    assert data["locations"] == [
        {"latitude": 47.4979, "longitude": 19.0402, "relevantText": "Budapest store"}
    ]
    assert data["webServiceURL"] == CONTENT.web_service_url
    assert data["authenticationToken"] == CONTENT.authentication_token
    assert "voided" not in data
    by_key = fields(data)
    assert by_key["offer"]["value"] == "20% off"
    assert by_key["code"]["value"] == "ABCD-2345-EFGH-678"
    assert "redeemed" not in by_key
    for field in by_key.values():
        assert all(value != "" for value in field.values()), field
    for group in ("primaryFields", "backFields"):
        assert all("textAlignment" not in field for field in data["coupon"][group])


def test_dates_are_iso_8601_with_an_offset(builder: ApplePassBuilder) -> None:
    berlin = timezone(timedelta(hours=2))
    expires = datetime(2026, 6, 8, 14, 0, tzinfo=berlin)
    data = pass_json(builder.build(replace(CONTENT, expires_at=expires)))
    assert ISO_WITH_OFFSET.match(data["expirationDate"])
    assert datetime.fromisoformat(data["expirationDate"]) == expires
    assert datetime.fromisoformat(fields(data)["expires"]["value"]) == expires


@pytest.mark.parametrize(
    ("status", "shown"),
    [("redeemed", "Redeemed"), ("expired", "Expired"), ("revoked", "Revoked"), ("used_up", "Used up")],
)
def test_an_ended_coupon_is_voided_and_announces_it(
    builder: ApplePassBuilder, status: str, shown: str
) -> None:
    content = replace(CONTENT, status=status)  # type: ignore[arg-type]
    data = pass_json(builder.build(content))
    assert data["voided"] is True
    assert fields(data)["status"]["value"] == shown
    assert "%@" in fields(data)["status"]["changeMessage"]


def test_an_active_coupon_shows_valid_or_expiring(builder: ApplePassBuilder) -> None:
    assert fields(pass_json(builder.build(CONTENT)))["status"]["value"] == "Valid"
    expiring = pass_json(builder.build(replace(CONTENT, expiring_soon=True)))
    assert fields(expiring)["status"]["value"] == "Expires soon"
    assert "voided" not in expiring


def test_a_redemption_time_is_a_date_field(builder: ApplePassBuilder) -> None:
    redeemed_at = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    data = pass_json(builder.build(replace(CONTENT, status="redeemed", redeemed_at=redeemed_at)))
    field = fields(data)["redeemed"]
    assert datetime.fromisoformat(field["value"]) == redeemed_at
    assert field["dateStyle"].startswith("PKDateStyle")


def test_colours_are_apple_rgb(builder: ApplePassBuilder) -> None:
    data = pass_json(
        builder.build(
            replace(CONTENT, foreground_color="#FFFFFF", label_color="#00ff7f", background_color=None)
        )
    )
    template = json.loads((TEMPLATE / "pass.json").read_text())
    assert data["backgroundColor"] == template["backgroundColor"]
    assert data["foregroundColor"] == "rgb(255, 255, 255)"
    assert data["labelColor"] == "rgb(0, 255, 127)"
    for key in ("backgroundColor", "foregroundColor", "labelColor"):
        match = RGB.match(data[key])
        assert match, data[key]
        assert all(0 <= int(part) <= 255 for part in match.groups())
    assert pass_json(builder.build(CONTENT))["backgroundColor"] == "rgb(18, 52, 86)"


def test_at_most_ten_locations(builder: ApplePassBuilder) -> None:
    many = tuple((47.0 + index / 100, 19.0, f"Store {index}") for index in range(15))
    assert len(pass_json(builder.build(replace(CONTENT, locations=many)))["locations"]) == 10


# --- images ----------------------------------------------------------------------------------------


def test_the_template_images_have_apple_sizes() -> None:
    for name, size in {**ICON_SIZES, **LOGO_BOXES}.items():
        assert png_size((TEMPLATE / name).read_bytes()) == size, name


def test_the_pass_carries_the_template_images(builder: ApplePassBuilder) -> None:
    files = unpacked(builder.build(CONTENT))
    for name, size in {**ICON_SIZES, **LOGO_BOXES}.items():
        assert files[name] == (TEMPLATE / name).read_bytes()
        assert png_size(files[name]) == size


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 40, 40, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((1200, 300), [(160, 40), (320, 80), (480, 120)]),  # wide: fits the width
        ((100, 400), [(13, 50), (25, 100), (38, 150)]),  # tall: fits the height
        ((80, 25), [(160, 50), (320, 100), (480, 150)]),  # small: same size in points at each density
    ],
)
def test_a_campaign_logo_is_fitted_into_the_logo_boxes(
    builder: ApplePassBuilder, source: tuple[int, int], expected: list[tuple[int, int]]
) -> None:
    files = unpacked(builder.build(replace(CONTENT, logo_png=png(*source))))
    assert [png_size(files[name]) for name in LOGO_BOXES] == expected
    for name, (box_width, box_height) in LOGO_BOXES.items():
        width, height = png_size(files[name])
        assert width <= box_width
        assert height <= box_height
        assert abs(width / height - source[0] / source[1]) < 0.05 * source[0] / source[1]
    assert files["icon.png"] == (TEMPLATE / "icon.png").read_bytes()


# --- localisation ----------------------------------------------------------------------------------


def test_the_template_strings_translate_every_text_the_pass_shows(builder: ApplePassBuilder) -> None:
    shown: set[str] = set()
    for content in (
        replace(CONTENT, status="redeemed", redeemed_at=CONTENT.expires_at),
        replace(CONTENT, status="expired"),
        replace(CONTENT, status="revoked"),
        replace(CONTENT, status="used_up"),
        replace(CONTENT, expiring_soon=True),
        CONTENT,
    ):
        for key, field in fields(pass_json(builder.build(content))).items():
            shown |= {field["label"], field.get("changeMessage", field["label"])}
            if key == "status":
                shown.add(field["value"])
    for folder in ("en.lproj", "de.lproj"):
        strings = strings_of((TEMPLATE / folder / "pass.strings").read_bytes())
        assert shown <= set(strings), (folder, shown - set(strings))
        assert all(value for value in strings.values())


def test_campaign_texts_are_merged_into_the_localisations(builder: ApplePassBuilder) -> None:
    content = replace(CONTENT, texts={**CONTENT.texts, "de-AT": {"title": "Frühlingsaktion"}})
    files = unpacked(builder.build(content))
    languages = {name.split("/")[0] for name in files if name.endswith(".lproj/pass.strings")}
    assert languages == {"en.lproj", "de.lproj", "fr.lproj", "de-AT.lproj"}
    german = strings_of(files["de.lproj/pass.strings"])
    assert german["Spring sale"] == "Frühlingsrabatt"
    assert german["Redeemed"] == "Eingelöst"
    assert german["Coupon status: %@"] == "Gutscheinstatus: %@"
    assert strings_of(files["fr.lproj/pass.strings"]) == {"One per visit": "Un par visite"}
    austrian = strings_of(files["de-AT.lproj/pass.strings"])
    assert austrian["Spring sale"] == "Frühlingsaktion"
    assert austrian["Redeemed"] == "Eingelöst"  # from de
    assert files["en.lproj/pass.strings"] == (TEMPLATE / "en.lproj" / "pass.strings").read_bytes()


def test_campaign_texts_with_quotes_and_newlines_are_escaped(builder: ApplePassBuilder) -> None:
    content = replace(
        CONTENT, terms='Max. 1 "per" visit\nNo cash', texts={"de": {"terms": 'Höchstens 1 "pro"\nBesuch'}}
    )
    german = strings_of(unpacked(builder.build(content))["de.lproj/pass.strings"])
    assert german[r"Max. 1 \"per\" visit\nNo cash"] == r"Höchstens 1 \"pro\"\nBesuch"


# --- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"expires_at": datetime(2026, 6, 8, 12, 0)},  # noqa: DTZ001 (naive on purpose)
        {"authentication_token": "short"},
        {"background_color": "red"},
        {"status": "lost"},
        {"barcode_message": "ŐRÜLT-CODE"},
        {"texts": {"../../etc": {"title": "x"}}},
        {"texts": {"de": {"subtitle": "x"}}},
        {"locations": ((91.0, 0.0, "North of the pole"),)},
        {"web_service_url": "ftp://example.com"},
    ],
)
def test_pass_content_refuses_what_apple_would(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each case has its own message)
        replace(CONTENT, **change)


def test_the_builder_refuses_identifiers_not_in_the_certificate(signer: PassSigner) -> None:
    with pytest.raises(ConfigurationError, match="pass type identifier"):
        ApplePassBuilder(TEMPLATE, signer, "pass.other.coupon", DEVELOPMENT_TEAM, "Tessera")
    with pytest.raises(ConfigurationError, match="team identifier"):
        ApplePassBuilder(TEMPLATE, signer, DEVELOPMENT_PASS_TYPE, "OTHERTEAM", "Tessera")


def test_the_builder_refuses_a_template_apple_would_refuse(signer: PassSigner, tmp_path: Path) -> None:
    template = tmp_path / "coupon.pass"
    shutil.copytree(TEMPLATE, template)
    data = json.loads((template / "pass.json").read_text())
    data["coupon"]["primaryFields"][0]["textAlignment"] = "PKTextAlignmentLeft"
    (template / "pass.json").write_text(json.dumps(data))
    with pytest.raises(ConfigurationError, match="textAlignment"):
        ApplePassBuilder(template, signer, DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM, "Tessera")


# --- signer and development certificates ----------------------------------------------------------


def test_the_signer_takes_an_encrypted_key_and_refuses_a_foreign_one(
    pass_certificates: DevelopmentCertificates, tmp_path: Path
) -> None:
    key = serialization.load_pem_private_key(pass_certificates.key_path.read_bytes(), None)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    signer = PassSigner(pass_certificates.cert_path, encrypted, pass_certificates.wwdr_path, "secret")
    assert signer.pass_type_identifier == DEVELOPMENT_PASS_TYPE
    assert signer.team_identifier == DEVELOPMENT_TEAM
    with pytest.raises(ConfigurationError):
        PassSigner(pass_certificates.cert_path, encrypted, pass_certificates.wwdr_path)
    foreign = tmp_path / "foreign.pem"
    foreign.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ConfigurationError, match="not the private key"):
        PassSigner(pass_certificates.cert_path, foreign, pass_certificates.wwdr_path)


def test_development_certificates_look_like_apple_ones(pass_certificates: DevelopmentCertificates) -> None:
    certificate = x509.load_pem_x509_certificate(pass_certificates.cert_path.read_bytes())
    assert [(attribute.oid, attribute.value) for attribute in certificate.subject] == [
        (NameOID.USER_ID, DEVELOPMENT_PASS_TYPE),
        (NameOID.COMMON_NAME, f"Pass Type ID: {DEVELOPMENT_PASS_TYPE}"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, DEVELOPMENT_TEAM),
        (NameOID.ORGANIZATION_NAME, "Tessera development"),
    ]
    ca_name = "O=Tessera development,CN=Tessera Development WWDR (not Apple)"
    assert certificate.issuer.rfc4514_string() == ca_name
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 2048
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert timedelta(days=725) <= lifetime <= timedelta(days=735)
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usages
    assert pass_certificates.key_path.stat().st_mode & 0o777 == 0o600
    # OpenSSL accepts it as a TLS client certificate issued by the stand-in WWDR (APNs tests).
    verified = openssl(
        "verify", "-CAfile", str(pass_certificates.wwdr_path), "-purpose", "sslclient",
        str(pass_certificates.cert_path),
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_development_certificates_are_reused_unless_they_do_not_fit(tmp_path: Path) -> None:
    first = make_development_certificates(tmp_path, DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM)
    pem = first.cert_path.read_bytes()
    assert make_development_certificates(tmp_path, DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM) == first
    assert first.cert_path.read_bytes() == pem
    first.key_path.chmod(0o644)
    make_development_certificates(tmp_path, DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM)
    assert first.key_path.stat().st_mode & 0o777 == 0o600
    assert first.cert_path.read_bytes() == pem

    other_team = make_development_certificates(tmp_path, DEVELOPMENT_PASS_TYPE, "OTHERTEAM")
    renewed = x509.load_pem_x509_certificate(other_team.cert_path.read_bytes())
    assert renewed.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "OTHERTEAM"

    pem = other_team.cert_path.read_bytes()
    other_team.wwdr_path.write_bytes(first.cert_path.read_bytes())  # a CA that did not issue it
    make_development_certificates(tmp_path, DEVELOPMENT_PASS_TYPE, "OTHERTEAM")
    assert other_team.cert_path.read_bytes() != pem
    assert openssl("verify", "-CAfile", str(other_team.wwdr_path), str(other_team.cert_path)).returncode == 0
