"""Signed Apple passes checked by independent tools: the zip against its manifest (hashlib),
the PKCS#7 signature with OpenSSL, pass.json with passkit-generator's schemas (Node.js), and the
image sizes from the PNG headers."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tessera.settings import DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM, REPOSITORY
from tessera.wallet.apple.dev_certificates import DevelopmentCertificates
from tessera.wallet.apple.pass_builder import ApplePassBuilder, PassContent
from tessera.wallet.apple.signing import PassSigner

TEMPLATE = REPOSITORY / "wallet_templates" / "apple" / "coupon.pass"
VALIDATOR = Path(__file__).resolve().parent / "js" / "validate_pass.mjs"
IN_CI = os.environ.get("CI", "").lower() == "true"
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
def builder(pass_certificates: DevelopmentCertificates) -> ApplePassBuilder:
    signer = PassSigner(pass_certificates.cert_path, pass_certificates.key_path, pass_certificates.wwdr_path)
    return ApplePassBuilder(TEMPLATE, signer, DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM, "Tessera")


def unpacked(pkpass: bytes, into: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    for name, data in files.items():
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        (into / name).write_bytes(data)
    return files


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def openssl_verifies(folder: Path, ca: Path) -> bool:
    result = subprocess.run(
        [
            shutil.which("openssl") or "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(folder / "signature"),
            "-content",
            str(folder / "manifest.json"),
            "-CAfile",
            str(ca),
            "-purpose",
            "any",
            "-out",
            os.devnull,
        ],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def validator_problems(pass_data: dict[str, Any], tmp_path: Path) -> list[str]:
    node = shutil.which("node")
    installed = (VALIDATOR.parent / "node_modules" / "passkit-generator").is_dir()
    if node is None or not installed:
        message = "Node.js and tests/js/node_modules are needed (npm ci --prefix tests/js)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path / "candidate.json"
    path.write_text(json.dumps(pass_data))
    result = subprocess.run([node, str(VALIDATOR), str(path)], capture_output=True, text=True, check=False)
    if result.returncode == 0:
        assert result.stdout.strip() == "valid"
        return []
    return result.stdout.strip().splitlines()


def test_the_zip_holds_exactly_the_manifest_files(builder: ApplePassBuilder, tmp_path: Path) -> None:
    files = unpacked(builder.build(CONTENT), tmp_path)
    manifest = json.loads(files["manifest.json"])
    assert set(files) == set(manifest) | {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest, name  # noqa: S324 (Apple's format)
    assert {"pass.json", "icon.png", "icon@2x.png", "icon@3x.png", "logo.png"} <= set(manifest)
    for language in ("en", "de", "fr"):
        assert files[f"{language}.lproj/pass.strings"].strip()


def test_the_signature_verifies_with_openssl_and_fails_when_a_byte_changes(
    builder: ApplePassBuilder, pass_certificates: DevelopmentCertificates, tmp_path: Path
) -> None:
    files = unpacked(builder.build(CONTENT), tmp_path)
    assert openssl_verifies(tmp_path, pass_certificates.wwdr_path)
    manifest = bytearray(files["manifest.json"])
    manifest[10] ^= 0x01
    (tmp_path / "manifest.json").write_bytes(bytes(manifest))
    assert not openssl_verifies(tmp_path, pass_certificates.wwdr_path)
    (tmp_path / "manifest.json").write_bytes(files["manifest.json"])
    signature = bytearray(files["signature"])
    signature[-20] ^= 0x01
    (tmp_path / "signature").write_bytes(bytes(signature))
    assert not openssl_verifies(tmp_path, pass_certificates.wwdr_path)


def test_the_signature_does_not_verify_against_another_ca(
    builder: ApplePassBuilder, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tessera.wallet.apple.dev_certificates import make_development_certificates

    unpacked(builder.build(CONTENT), tmp_path)
    stranger = make_development_certificates(tmp_path_factory.mktemp("other"), DEVELOPMENT_PASS_TYPE, "OTHER")
    assert not openssl_verifies(tmp_path, stranger.wwdr_path)


@pytest.mark.parametrize("status", ["active", "redeemed", "expired", "revoked"])
def test_pass_json_passes_the_strict_validator(
    builder: ApplePassBuilder, tmp_path: Path, status: str
) -> None:
    content = replace(CONTENT, status=status)  # type: ignore[arg-type]
    pass_data = json.loads(unpacked(builder.build(content), tmp_path)["pass.json"])
    assert validator_problems(pass_data, tmp_path) == []


def test_the_validator_catches_what_py_pkpass_writes_by_default(
    builder: ApplePassBuilder, tmp_path: Path
) -> None:
    pass_data = json.loads(unpacked(builder.build(CONTENT), tmp_path)["pass.json"])
    pass_data["coupon"]["primaryFields"][0]["changeMessage"] = ""
    problems = validator_problems(pass_data, tmp_path)
    assert any("changeMessage" in problem for problem in problems), problems
    pass_data = json.loads((tmp_path / "pass.json").read_text())
    pass_data["barcode"] = pass_data["barcodes"][0]
    assert validator_problems(pass_data, tmp_path) != []


def test_pass_json_content(builder: ApplePassBuilder, tmp_path: Path) -> None:
    data = json.loads(unpacked(builder.build(CONTENT), tmp_path)["pass.json"])
    assert data["formatVersion"] == 1
    assert data["passTypeIdentifier"] == DEVELOPMENT_PASS_TYPE
    assert data["teamIdentifier"] == DEVELOPMENT_TEAM
    assert data["serialNumber"] == "42"
    assert data["expirationDate"] == "2026-06-08T12:00:00+00:00"
    assert datetime.fromisoformat(data["expirationDate"]).utcoffset() is not None
    assert data["backgroundColor"] == "rgb(18, 52, 86)"
    assert data["barcodes"] == [
        {
            "format": "PKBarcodeFormatQR",
            "message": "TSR1:A:ABCD2345EFGH678",
            "messageEncoding": "iso-8859-1",
            "altText": "ABCD-2345-EFGH-678",
        }
    ]
    assert data["locations"] == [
        {"latitude": 47.4979, "longitude": 19.0402, "relevantText": "Budapest store"}
    ]
    assert data["webServiceURL"] == CONTENT.web_service_url
    assert data["authenticationToken"] == CONTENT.authentication_token
    assert "voided" not in data
    primary = data["coupon"]["primaryFields"][0]
    assert primary["value"] == "20% off"


def test_a_redeemed_pass_is_voided_and_announces_it(builder: ApplePassBuilder, tmp_path: Path) -> None:
    data = json.loads(unpacked(builder.build(replace(CONTENT, status="redeemed")), tmp_path)["pass.json"])
    assert data["voided"] is True
    status = next(f for f in data["coupon"]["auxiliaryFields"] if f["key"] == "status")
    assert status["value"] == "Redeemed"
    assert "%@" in status["changeMessage"]


def test_images_have_apple_sizes(builder: ApplePassBuilder, tmp_path: Path) -> None:
    files = unpacked(builder.build(CONTENT), tmp_path)
    assert png_size(files["icon.png"]) == (29, 29)
    assert png_size(files["icon@2x.png"]) == (58, 58)
    assert png_size(files["icon@3x.png"]) == (87, 87)
    for name, (width, height) in {
        "logo.png": (160, 50),
        "logo@2x.png": (320, 100),
        "logo@3x.png": (480, 150),
    }.items():
        logo_width, logo_height = png_size(files[name])
        assert logo_width <= width, name
        assert logo_height <= height, name


def test_a_campaign_logo_is_scaled_into_the_logo_boxes(builder: ApplePassBuilder, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (1200, 300), (200, 40, 40, 255)).save(buffer, format="PNG")
    files = unpacked(builder.build(replace(CONTENT, logo_png=buffer.getvalue())), tmp_path)
    assert png_size(files["logo.png"]) == (160, 40)
    assert png_size(files["logo@2x.png"]) == (320, 80)
    assert png_size(files["logo@3x.png"]) == (480, 120)


def test_campaign_texts_are_localised(builder: ApplePassBuilder, tmp_path: Path) -> None:
    files = unpacked(builder.build(CONTENT), tmp_path)
    german = files["de.lproj/pass.strings"].decode("utf-8")
    assert '"Spring sale" = "Frühlingsrabatt";' in german
    assert '"Redeemed" = "Eingelöst";' in german
    assert '"One per visit" = "Un par visite";' in files["fr.lproj/pass.strings"].decode("utf-8")
