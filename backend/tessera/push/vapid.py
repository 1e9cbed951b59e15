"""VAPID keys: the browser's ``applicationServerKey`` is the base64url of the uncompressed
P-256 public point; pywebpush takes the private key as base64url of the raw 32-byte scalar."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass(frozen=True, slots=True)
class VapidKeys:
    private_key: str
    public_key: str


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_vapid_keys() -> VapidKeys:
    key = ec.generate_private_key(ec.SECP256R1())
    return VapidKeys(
        private_key=b64url(key.private_numbers().private_value.to_bytes(32, "big")),
        public_key=public_key_of(key),
    )


def public_key_of(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def load_private_key(private_key: str) -> ec.EllipticCurvePrivateKey:
    """The key of a base64url raw scalar; ``ValueError`` when it is not one."""
    raw = b64url_decode(private_key)
    if len(raw) != 32:
        raise ValueError("a VAPID private key is 32 bytes")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
