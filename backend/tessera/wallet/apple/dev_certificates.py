"""Throwaway pass certificates for development and tests: a stand-in "WWDR" CA and a Pass Type
ID certificate it issues. Real iPhones accept only Apple-issued ones (set ``TESSERA_APPLE_*``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = timedelta(days=730)


@dataclass(frozen=True, slots=True)
class DevelopmentCertificates:
    wwdr_path: Path
    cert_path: Path
    key_path: Path


def make_development_certificates(
    directory: Path, pass_type_identifier: str, team_identifier: str
) -> DevelopmentCertificates:
    """Certificates in ``directory``; existing ones for the same identifiers are kept."""
    paths = DevelopmentCertificates(
        directory / "wwdr.pem", directory / "pass-certificate.pem", directory / "pass-key.pem"
    )
    if _usable(paths, pass_type_identifier, team_identifier):
        return paths
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Tessera Development WWDR (not Apple)"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tessera development"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, pass_type_identifier),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {pass_type_identifier}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_identifier),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tessera development"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        # The same certificate is the TLS client certificate towards APNs.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths.wwdr_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    _write_private(
        paths.key_path,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    return paths


def _usable(paths: DevelopmentCertificates, pass_type_identifier: str, team_identifier: str) -> bool:
    if not all(path.exists() for path in (paths.wwdr_path, paths.cert_path, paths.key_path)):
        return False
    try:
        certificate = x509.load_pem_x509_certificate(paths.cert_path.read_bytes())
    except ValueError:
        return False
    subject = certificate.subject
    return (
        [a.value for a in subject.get_attributes_for_oid(NameOID.USER_ID)] == [pass_type_identifier]
        and [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
        == [team_identifier]
        and certificate.not_valid_after_utc > datetime.now(UTC) + timedelta(days=1)
    )


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=signing,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
    )


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
