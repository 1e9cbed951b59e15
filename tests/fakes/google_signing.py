"""A local stand-in for Google's signing of Wallet callbacks (``ECv2SigningOnly``).

Written from Tink's PaymentMethodTokenSender and kept apart from ``tessera.wallet.google.callbacks``
on purpose: a shared mistake in both would otherwise go unnoticed. A root key signs an
intermediate key, the intermediate key signs the message; each signature covers the
length-value encoding (4-byte little-endian length, then UTF-8) of its parts.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SENDER_ID = "GooglePayPasses"
PROTOCOL = "ECv2SigningOnly"


def length_value(*chunks: str) -> bytes:
    out = b""
    for chunk in chunks:
        data = chunk.encode("utf-8")
        out += struct.pack("<I", len(data)) + data
    return out


def millis(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def spki_base64(key: ec.EllipticCurvePublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).decode()


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def callback_message(
    class_id: str, object_id: str, event_type: str, nonce: str, expires_at: datetime
) -> dict[str, Any]:
    """The message Google signs: ids, ``save``/``del``, a nonce and its expiry (ms, a string)."""
    return {
        "classId": class_id,
        "objectId": object_id,
        "expTimeMillis": str(millis(expires_at)),
        "eventType": event_type,
        "nonce": nonce,
    }


@dataclass
class GoogleSigner:
    """Google's side: a root key pair and an intermediate key pair."""

    root: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    intermediate: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def root_keys_document(
        self, expires_at: datetime, *, also: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        """Google's published keys JSON, with our root key (plus any ``also`` entries)."""
        own = {
            "keyValue": spki_base64(self.root.public_key()),
            "protocolVersion": PROTOCOL,
            "keyExpiration": str(millis(expires_at)),
        }
        return {"keys": [*(also or []), own]}

    def write_root_keys(self, path: Path, expires_at: datetime, **options: Any) -> Path:
        path.write_text(json.dumps(self.root_keys_document(expires_at, **options)), encoding="utf-8")
        return path

    def callback_body(
        self,
        recipient_id: str,
        message: dict[str, Any] | str,
        *,
        intermediate_expires_at: datetime,
        root: ec.EllipticCurvePrivateKey | None = None,
        sender_id: str = SENDER_ID,
        protocol_version: str = PROTOCOL,
        signed_key_override: str | None = None,
        signed_message_override: str | None = None,
    ) -> bytes:
        """A callback body for ``recipient_id`` (the issuer id).

        ``root`` signs the intermediate key instead of our root; the ``*_override`` values
        replace the signed key or message after signing (tampering).
        """
        signed_key = json.dumps(
            {
                "keyValue": spki_base64(self.intermediate.public_key()),
                "keyExpiration": str(millis(intermediate_expires_at)),
            }
        )
        key_signature = sign(root or self.root, length_value(sender_id, protocol_version, signed_key))
        signed_message = message if isinstance(message, str) else json.dumps(message)
        message_signature = sign(
            self.intermediate, length_value(sender_id, recipient_id, protocol_version, signed_message)
        )
        body = {
            "signature": message_signature,
            "intermediateSigningKey": {
                "signedKey": signed_key if signed_key_override is None else signed_key_override,
                "signatures": [key_signature],
            },
            "protocolVersion": protocol_version,
            "signedMessage": signed_message if signed_message_override is None else signed_message_override,
        }
        return json.dumps(body).encode()
