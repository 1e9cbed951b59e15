"""The detached PKCS#7 signature of a pass's manifest, with the signing material loaded once.

py-pkpass reads and re-validates the PEM files for every pass (OpenSSL 3's RSA key check makes
that ~40 ms a pass); loading them once makes signing the only per-pass cost.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from tessera.errors import ConfigurationError

_OPTIONS = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]


class PassSigner:
    """Signs manifests with the Pass Type ID certificate; Apple's WWDR intermediate goes along."""

    def __init__(
        self, cert_path: Path, key_path: Path, wwdr_path: Path, key_password: str | None = None
    ) -> None:
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
        self.key = key

    def sign(self, manifest: bytes) -> bytes:
        """DER-encoded detached signature of ``manifest`` (thread-safe)."""
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(self.certificate, self.key, hashes.SHA256())
            .add_certificate(self.wwdr)
            .sign(serialization.Encoding.DER, _OPTIONS)
        )
