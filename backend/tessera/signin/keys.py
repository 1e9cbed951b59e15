"""Keys of customer sign-in, derived from ``TESSERA_CODE_SECRET`` like those of the coupon codes
(``tessera.codes.keys``), each under its own label.

A sign-in code is six decimal digits: typed from an e-mail or SMS, often on a phone's numeric
keypad, and filled in by the phone itself from an SMS (``autocomplete="one-time-code"``). Six
digits alone are guessable; what makes them safe is the failure budget per contact (see
``SignInSettings``), the short validity and that each code works once.
"""

from __future__ import annotations

import hmac
from typing import Literal

Channel = Literal["email", "sms"]
CODE_DIGITS = 6


class SignInKeys:
    def __init__(self, secret: str) -> None:
        master = secret.encode()
        self._code_key = hmac.digest(master, b"tessera/sign-in-code/v1", "sha256")
        self._lookup_key = hmac.digest(master, b"tessera/sign-in-lookup/v1", "sha256")
        self._contact_key = hmac.digest(master, b"tessera/sign-in-contact/v1", "sha256")

    def code(self, nonce: bytes) -> str:
        """The code a nonce stands for: whoever holds the database alone cannot tell it."""
        mac = hmac.digest(self._code_key, nonce, "sha256")
        return str(int.from_bytes(mac[:8], "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)

    def digest(self, channel: Channel, contact: str, code: str) -> bytes:
        """What the database keeps of a code: bound to the e-mail address or phone number it
        was sent to, so one customer's code never opens another's account."""
        return hmac.digest(self._lookup_key, f"{channel}\0{contact}\0{code}".encode(), "sha256")

    def contact_subject(self, channel: Channel, contact: str) -> str:
        """A contact's name in the attempt counters (no e-mail address or phone number there)."""
        return hmac.digest(self._contact_key, f"{channel}\0{contact}".encode(), "sha256")[:16].hex()
