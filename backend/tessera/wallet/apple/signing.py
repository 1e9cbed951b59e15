"""The detached PKCS#7 signature of a pass's manifest, with the signing material loaded once.

py-pkpass reads and re-validates the PEM files for every pass (OpenSSL 3's RSA key check makes
that ~40 ms a pass); loading them once makes the RSA signature the only per-pass signing cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from tessera.core.errors import ConfigurationError

# Binary: sign the manifest's bytes as they are (no MIME line-ending canonicalisation).
SIGN_OPTIONS: Final = (pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary)


class PassSigner:
    """Signs manifests with the Pass Type ID certificate; Apple's WWDR intermediate goes along.

    The certificate, key and WWDR certificate are read and checked once, here. ``sign`` keeps no
    state between calls (cryptography's key objects are immutable), so worker threads may share
    one signer.
    """

    def __init__(
        self, cert_path: Path, key_path: Path, wwdr_path: Path, key_password: str | None = None
    ) -> None:
        self.cert_path = cert_path
        self.key_path = key_path
        self.wwdr_path = wwdr_path
        try:
            self.certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
            self.wwdr = x509.load_pem_x509_certificate(wwdr_path.read_bytes())
            key = serialization.load_pem_private_key(
                key_path.read_bytes(), key_password.encode() if key_password else None
            )
        except (OSError, ValueError, TypeError) as error:
            raise ConfigurationError(f"Cannot load the pass signing certificate or key: {error}") from error
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigurationError("The pass signing key must be an RSA or EC private key")
        # A key from another certificate would sign passes no iPhone accepts: refuse to start.
        if key.public_key() != self.certificate.public_key():
            raise ConfigurationError(f"{key_path} is not the private key of the certificate {cert_path}")
        self.key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = key

    @property
    def pass_type_identifier(self) -> str | None:
        """The certificate's UID, which Apple sets to the pass type identifier."""
        return _attribute(self.certificate.subject, NameOID.USER_ID)

    @property
    def team_identifier(self) -> str | None:
        """The certificate's OU, which Apple sets to the team identifier."""
        return _attribute(self.certificate.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)

    def sign(self, manifest: bytes) -> bytes:
        """DER-encoded detached PKCS#7 signature of ``manifest`` (SHA-256, WWDR certificate included)."""
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(self.certificate, self.key, hashes.SHA256())
            .add_certificate(self.wwdr)
            .sign(serialization.Encoding.DER, SIGN_OPTIONS)
        )


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None
