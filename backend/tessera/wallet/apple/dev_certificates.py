"""Throwaway pass certificates for development and tests: a stand-in "WWDR" CA and the Pass Type
ID certificate it issues. Passes signed with them install on no real iPhone; production sets the
Apple-issued ones through ``TESSERA_APPLE_*``.

The leaf also carries the clientAuth extended key usage, because the same certificate is the TLS
client certificate towards APNs (a local fake in tests), as Apple's Pass Type ID certificate is.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY: Final = timedelta(days=730)
CA_NAME: Final = "Tessera Development WWDR (not Apple)"
ORGANIZATION: Final = "Tessera development"


@dataclass(frozen=True, slots=True)
class DevelopmentCertificates:
    """PEM paths: ``wwdr_path`` is the throwaway CA standing in for Apple's WWDR intermediate."""

    wwdr_path: Path
    cert_path: Path
    key_path: Path


def make_development_certificates(
    directory: Path, pass_type_identifier: str, team_identifier: str
) -> DevelopmentCertificates:
    """Certificates in ``directory`` for these identifiers: the existing ones if they fit, else new.

    Idempotent and safe to call from several processes at once (an app's workers, test runs): a
    lock file serialises them, so a certificate never ends up next to another run's key.
    """
    paths = DevelopmentCertificates(
        directory / "wwdr.pem", directory / "pass-certificate.pem", directory / "pass-key.pem"
    )
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _usable(paths, pass_type_identifier, team_identifier):
            _make(paths, pass_type_identifier, team_identifier)
        elif paths.key_path.stat().st_mode & 0o077:
            paths.key_path.chmod(0o600)
    return paths


def _make(paths: DevelopmentCertificates, pass_type_identifier: str, team_identifier: str) -> None:
    now = datetime.now(UTC)
    not_before, not_after = now - timedelta(days=1), now + VALIDITY
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, pass_type_identifier),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {pass_type_identifier}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_identifier),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write(paths.key_path, key_pem, 0o600)
    _write(paths.cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(paths.wwdr_path, ca.public_bytes(serialization.Encoding.PEM), 0o644)


def _usable(paths: DevelopmentCertificates, pass_type_identifier: str, team_identifier: str) -> bool:
    """Whether the files form one valid set for these identifiers (else they are made anew)."""
    try:
        ca = x509.load_pem_x509_certificate(paths.wwdr_path.read_bytes())
        certificate = x509.load_pem_x509_certificate(paths.cert_path.read_bytes())
        key = serialization.load_pem_private_key(paths.key_path.read_bytes(), None)
        certificate.verify_directly_issued_by(ca)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    subject = certificate.subject
    fresh_until = datetime.now(UTC) + timedelta(days=1)
    return (
        _values(subject, NameOID.USER_ID) == [pass_type_identifier]
        and _values(subject, NameOID.ORGANIZATIONAL_UNIT_NAME) == [team_identifier]
        and key.public_key() == certificate.public_key()
        and certificate.not_valid_after_utc > fresh_until
        and ca.not_valid_after_utc > fresh_until
    )


def _values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` atomically (a crash leaves the old file or the new one, never half)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), mode)
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
