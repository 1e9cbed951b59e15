"""Unsubscribe links of marketing e-mail: one click withdraws the recipient's marketing consent
(RFC 8058 one-click, or the page's button), with no sign-in.

A link is ``<public url>/unsubscribe/<token>``. The token is 24 bytes in base64url (32
characters, no padding, so exactly one spelling): the customer id (8 bytes, big-endian) and the
first 16 bytes of an HMAC-SHA256 over it with a key of its own derived from the code secret. It
never expires (a mailbox keeps old messages and their links must keep working) and can do one
thing only, withdraw that customer's marketing consent; checking it costs an HMAC and no database
work, so forged and tampered tokens are refused before anything is read, all with one answer.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import struct

from tessera.codes.keys import CodeKeys
from tessera.core.errors import NotFound

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_PAYLOAD = struct.Struct(">Q")
MAC_BYTES = 16


class InvalidUnsubscribeLink(NotFound):
    code = "invalid_unsubscribe_link"
    title = "Not a valid unsubscribe link"

    def __init__(self) -> None:
        super().__init__("This unsubscribe link is not valid")


class UnsubscribeLinks:
    def __init__(self, keys: CodeKeys, public_url: str) -> None:
        self._key = keys.subkey("unsubscribe-link")
        self._base = f"{public_url}/unsubscribe/"

    def token(self, customer_id: int) -> str:
        payload = _PAYLOAD.pack(customer_id)
        return base64.urlsafe_b64encode(payload + self._mac(payload)).decode()

    def url(self, customer_id: int) -> str:
        return self._base + self.token(customer_id)

    def customer_id(self, token: str) -> int:
        """The customer a valid token names; ``InvalidUnsubscribeLink`` (404) otherwise."""
        if not _TOKEN.match(token):
            raise InvalidUnsubscribeLink
        try:
            raw = base64.urlsafe_b64decode(token)
        except (binascii.Error, ValueError):
            raise InvalidUnsubscribeLink from None
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidUnsubscribeLink
        return int(_PAYLOAD.unpack(payload)[0])

    def _mac(self, payload: bytes) -> bytes:
        return hmac.digest(self._key, payload, "sha256")[:MAC_BYTES]
