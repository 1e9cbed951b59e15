"""Signed wallet links: "add this coupon to your wallet" from an e-mail or SMS, where the reader
holds no bearer token.

A link is ``<public url>/wallet/links/<token>``. The token is 32 bytes in base64url (43
characters): the coupon id and the link's expiry (8 bytes each, big-endian) and the first 16
bytes of an HMAC-SHA256 over those 16 bytes with a key derived from the code secret. It opens
that one coupon's pass and save link and nothing else; it expires with the coupon (the same
coupon always gets the same link, so a mail merge repeated renders it byte for byte). Checking
one costs an HMAC and no database work, compared in constant time, so a forged, tampered or
truncated token is refused before anything is read, all with the same answer.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import struct
from datetime import datetime

from tessera.codes.keys import CodeKeys
from tessera.core.errors import DomainError, NotFound

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PAYLOAD = struct.Struct(">QQ")
MAC_BYTES = 16


class InvalidLink(NotFound):
    """Forged, tampered, malformed and unknown links all get this one answer."""

    code = "invalid_link"
    title = "Not a valid wallet link"

    def __init__(self) -> None:
        super().__init__("This wallet link is not valid")


class LinkExpired(DomainError):
    status = 410
    code = "link_expired"
    title = "This wallet link has expired"


class WalletLinks:
    def __init__(self, keys: CodeKeys, public_url: str) -> None:
        self._keys = keys
        self._base = f"{public_url}/wallet/links/"

    def token(self, coupon_id: int, expires_at: datetime) -> str:
        payload = _PAYLOAD.pack(coupon_id, int(expires_at.timestamp()))
        mac = self._keys.wallet_link_mac(payload)[:MAC_BYTES]
        return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode()

    def url(self, coupon_id: int, expires_at: datetime) -> str:
        return self._base + self.token(coupon_id, expires_at)

    def coupon_id(self, token: str, now: datetime) -> int:
        """The coupon a valid, unexpired token opens; ``InvalidLink`` (404) or ``LinkExpired``
        (410, only for a token we signed)."""
        if not _TOKEN.match(token):
            raise InvalidLink
        try:
            raw = base64.urlsafe_b64decode(token + "=")
        except (binascii.Error, ValueError):
            raise InvalidLink from None
        # Only the canonical spelling: the last character's two spare bits must be zero, so
        # no second token string opens the same coupon.
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
            raise InvalidLink
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        if not hmac.compare_digest(mac, self._keys.wallet_link_mac(payload)[:MAC_BYTES]):
            raise InvalidLink
        coupon_id, expires = _PAYLOAD.unpack(payload)
        if now.timestamp() >= expires:
            raise LinkExpired("This wallet link expired with its coupon")
        return int(coupon_id)
