"""Google Wallet save/delete callbacks, verified the way Tink's PaymentMethodTokenRecipient
verifies ``ECv2SigningOnly`` messages.

The body is ``{"protocolVersion", "signature", "signedMessage", "intermediateSigningKey":
{"signedKey", "signatures"}}``. One of Google's root keys signs the intermediate key over
``LV("GooglePayPasses", "ECv2SigningOnly", signedKey)``; the intermediate key signs the message
over ``LV("GooglePayPasses", issuerId, "ECv2SigningOnly", signedMessage)``, where LV prefixes
each UTF-8 string with its length as 4 little-endian bytes. Signatures are DER ECDSA P-256 with
SHA-256; keys are base64 X.509 SubjectPublicKeyInfo. The issuer id in the signed bytes binds the
message to us: a callback meant for another issuer does not verify.

The body is untrusted: whatever its bytes, ``verify`` raises ``InvalidCallback`` and nothing else;
``UntrustedCallback`` (one of them) when the body is well formed but Google did not sign it for us
now (a signature that does not verify, an expired key or message, another issuer's objects).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal, TypeVar

import msgspec
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

PROTOCOL_VERSION: Final = "ECv2SigningOnly"
SENDER_ID: Final = "GooglePayPasses"
MAX_BODY_BYTES: Final = 64 * 1024
_MILLIS = re.compile(r"^[0-9]{1,15}$")
_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256())

EventType = Literal["save", "del"]
_T = TypeVar("_T")


class InvalidCallback(Exception):
    """The body is not a callback Google signed for us, or it has expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UntrustedCallback(InvalidCallback):
    """A well-formed callback that cannot be taken as Google's, for us, now: the sender is not
    Google (a signature does not verify) or the message is no longer valid."""


@dataclass(frozen=True, slots=True)
class RootKey:
    """One of Google's published signing keys for ``ECv2SigningOnly``."""

    public_key: ec.EllipticCurvePublicKey = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class CallbackMessage:
    class_id: str
    object_id: str
    event_type: EventType
    nonce: str  # Google may deliver a callback more than once: the caller dedupes on this
    expires_at: datetime


class _IntermediateSigningKey(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    signed_key: str
    signatures: list[str]


class _Envelope(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    protocol_version: str
    signature: str
    signed_message: str
    intermediate_signing_key: _IntermediateSigningKey


class _SignedKey(msgspec.Struct, rename="camel"):
    # Further fields are allowed, as in Tink, so Google can extend the format.
    key_value: str
    key_expiration: str | int


class _Message(msgspec.Struct, rename="camel"):
    class_id: str
    object_id: str
    event_type: str
    nonce: str
    exp_time_millis: str | int


def load_root_keys(path: Path) -> tuple[RootKey, ...]:
    """The ``ECv2SigningOnly`` keys of a file in the format Google publishes them in,
    ``{"keys": [{"keyValue", "protocolVersion", "keyExpiration"}]}``; keys of other protocols
    are skipped. A malformed file raises ``ValueError``: it is configuration, so fail fast."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read Google's root keys {path}: {error}") from error
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ValueError(f'{path}: expected {{"keys": [...]}}')
    loaded: list[RootKey] = []
    for index, entry in enumerate(keys):
        if not isinstance(entry, dict) or entry.get("protocolVersion") != PROTOCOL_VERSION:
            continue
        value, expiration = entry.get("keyValue"), entry.get("keyExpiration")
        try:
            if not isinstance(value, str):
                raise InvalidCallback("keyValue is missing")
            loaded.append(RootKey(_public_key(value), _from_millis(expiration)))
        except InvalidCallback as error:
            raise ValueError(f"{path}: key {index}: {error.reason}") from error
    if not loaded:
        raise ValueError(f"{path}: no {PROTOCOL_VERSION} key")
    return tuple(loaded)


class CallbackVerifier:
    """Verifies callbacks for one issuer against Google's root keys.

    ``sender_id`` is Tink's sender: Google's documentation names ``GooglePayPasses``.
    """

    def __init__(self, issuer_id: str, root_keys: Sequence[RootKey], *, sender_id: str = SENDER_ID) -> None:
        if not issuer_id:
            raise ValueError("issuer_id is required")
        if not root_keys:
            raise ValueError("at least one root key is required")
        self._issuer_id = issuer_id
        self._root_keys = tuple(root_keys)
        self._sender_id = sender_id

    def verify(self, body: bytes, now: datetime) -> CallbackMessage:
        """The callback's message, once its chain of signatures and its times check out."""
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        try:
            return self._verify(body, now)
        except InvalidCallback:
            raise
        except Exception as error:  # untrusted input: whatever went wrong, it is not valid
            raise InvalidCallback(f"malformed callback ({type(error).__name__})") from error

    def _verify(self, body: bytes, now: datetime) -> CallbackMessage:
        if len(body) > MAX_BODY_BYTES:
            raise InvalidCallback("body too large")
        now_ms = int(now.timestamp() * 1000)
        envelope = _decode(body, _Envelope, "body")
        if envelope.protocol_version != PROTOCOL_VERSION:
            raise InvalidCallback(f"unsupported protocolVersion {envelope.protocol_version[:40]!r}")
        intermediate = self._intermediate_key(envelope.intermediate_signing_key, now_ms)
        signed = _length_value(self._sender_id, self._issuer_id, PROTOCOL_VERSION, envelope.signed_message)
        if not _verifies(intermediate, _b64(envelope.signature), signed):
            raise UntrustedCallback("the message signature does not verify")
        return self._message(envelope.signed_message, now_ms)

    def _intermediate_key(self, key: _IntermediateSigningKey, now_ms: int) -> ec.EllipticCurvePublicKey:
        signed = _length_value(self._sender_id, PROTOCOL_VERSION, key.signed_key)
        signatures = [_b64(signature) for signature in key.signatures[:16]]
        roots = [root.public_key for root in self._root_keys if _millis(root.expires_at) > now_ms]
        if not roots:
            raise UntrustedCallback("every root key has expired")
        if not any(_verifies(root, signature, signed) for root in roots for signature in signatures):
            raise UntrustedCallback("the intermediate signing key is not signed by a root key")
        signed_key = _decode(key.signed_key.encode(), _SignedKey, "signedKey")
        if _parse_millis(signed_key.key_expiration, "keyExpiration") <= now_ms:
            raise UntrustedCallback("the intermediate signing key has expired")
        return _public_key(signed_key.key_value)

    def _message(self, signed_message: str, now_ms: int) -> CallbackMessage:
        message = _decode(signed_message.encode(), _Message, "signedMessage")
        expires_ms = _parse_millis(message.exp_time_millis, "expTimeMillis")
        if expires_ms <= now_ms:
            raise UntrustedCallback("the message has expired")
        if message.event_type not in ("save", "del"):
            raise InvalidCallback(f"unknown eventType {message.event_type[:20]!r}")
        prefix = f"{self._issuer_id}."
        if not (message.class_id.startswith(prefix) and message.object_id.startswith(prefix)):
            raise UntrustedCallback("classId and objectId must belong to our issuer")
        if not 0 < len(message.nonce) <= 200:
            raise InvalidCallback("nonce must have 1 to 200 characters")
        event: EventType = "save" if message.event_type == "save" else "del"
        return CallbackMessage(
            class_id=message.class_id,
            object_id=message.object_id,
            event_type=event,
            nonce=message.nonce,
            expires_at=_from_millis(expires_ms),
        )


def _length_value(*chunks: str) -> bytes:
    out = bytearray()
    for chunk in chunks:
        data = chunk.encode("utf-8")
        out += len(data).to_bytes(4, "little")
        out += data
    return bytes(out)


def _decode(data: bytes, kind: type[_T], what: str) -> _T:
    try:
        return msgspec.json.decode(data, type=kind)
    except (msgspec.DecodeError, RecursionError) as error:  # ValidationError is a DecodeError
        raise InvalidCallback(f"{what} is not valid: {error}") from error


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidCallback("invalid base64") from error


def _public_key(text: str) -> ec.EllipticCurvePublicKey:
    try:
        key = load_der_public_key(_b64(text))
    except (ValueError, UnsupportedAlgorithm) as error:
        raise InvalidCallback("not an X.509 public key") from error
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidCallback("not a P-256 public key")
    return key


def _verifies(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data, _ECDSA_SHA256)
    except (InvalidSignature, ValueError):
        return False
    return True


def _parse_millis(value: object, what: str) -> int:
    # Google sends milliseconds as decimal strings; plain JSON numbers are accepted too.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15:
        return value
    if isinstance(value, str) and _MILLIS.match(value):
        return int(value)
    raise InvalidCallback(f"{what} is not a time in milliseconds")


def _from_millis(value: object) -> datetime:
    try:
        return datetime.fromtimestamp(_parse_millis(value, "keyExpiration") / 1000, UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise InvalidCallback("time out of range") from error


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
