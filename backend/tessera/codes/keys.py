"""Keyed derivation of codes and of their lookup digests.

A coupon's code is derived from ``(campaign_id, serial)`` with a secret key, so the database
keeps only ``digest(code)``: whoever copies the database cannot present a single code, while
the owner can still be shown theirs. Member-card codes are derived from the customer id the
same way (their own key) and looked up by the same digest. All keys come from
``TESSERA_CODE_SECRET``.
"""

from __future__ import annotations

import base64
import hmac

from tessera.codes.formats import (
    EAN_SERIAL_SPACE,
    MEMBER_CODE_LENGTH,
    MEMBER_RESIDUE,
    ean13_code,
    random_code_from_bytes,
)

DIGEST_BYTES = 16


class CodeKeys:
    def __init__(self, secret: str) -> None:
        master = secret.encode()
        self._master = master
        self._derive_key = hmac.digest(master, b"tessera/code-derivation/v1", "sha256")
        self._lookup_key = hmac.digest(master, b"tessera/code-lookup/v1", "sha256")
        self._ean_key = hmac.digest(master, b"tessera/ean-permutation/v1", "sha256")
        self._pass_key = hmac.digest(master, b"tessera/wallet-pass-token/v1", "sha256")
        self._member_key = hmac.digest(master, b"tessera/member-code/v1", "sha256")
        self._link_key = hmac.digest(master, b"tessera/wallet-link/v1", "sha256")

    def subkey(self, purpose: str) -> bytes:
        """A key of its own for ``purpose`` (e.g. ``contest-codes``), for areas that derive codes
        or secrets of their own from the same secret."""
        return hmac.digest(self._master, b"tessera/%s/v1" % purpose.encode(), "sha256")

    def digest(self, code: str) -> bytes:
        """What the database stores and looks codes up by."""
        return hmac.digest(self._lookup_key, code.encode(), "sha256")[:DIGEST_BYTES]

    def pass_token(self, coupon_id: int) -> str:
        """The per-pass secret a wallet sends back to the pass web service (43 characters)."""
        mac = hmac.digest(self._pass_key, b"%d" % coupon_id, "sha256")
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def wallet_link_mac(self, message: bytes) -> bytes:
        """The MAC of a wallet link's ``(coupon id, expiry)`` (see ``tessera.wallet.links``)."""
        return hmac.digest(self._link_key, message, "sha256")

    def random_code(self, campaign_id: int, serial: int, length: int) -> str:
        raw = hmac.digest(self._derive_key, b"%d:%d" % (campaign_id, serial), "sha256")
        return random_code_from_bytes(raw[: length - 1])

    def member_code(self, customer_id: int) -> str:
        """The customer's member-card code (``formats.is_valid_member``), the same every time."""
        raw = hmac.digest(self._member_key, b"%d" % customer_id, "sha256")
        return random_code_from_bytes(raw[: MEMBER_CODE_LENGTH - 1], MEMBER_RESIDUE)

    def ean_code(self, prefix: str, campaign_number: int, campaign_id: int, serial: int) -> str:
        return ean13_code(prefix, campaign_number, self.ean_serial(campaign_id, serial))

    def ean_serial(self, campaign_id: int, serial: int) -> int:
        """A keyed permutation of ``0..999999`` so printed serials are not consecutive.

        A balanced four-round Feistel network on ``Z_1000 x Z_1000`` with modular addition is a
        bijection on exactly the million serials, so no cycle walking is needed.
        """
        if not 0 <= serial < EAN_SERIAL_SPACE:
            raise ValueError("EAN-13 campaigns hold at most 1,000,000 codes")
        left, right = divmod(serial, 1000)
        for round_number in range(4):
            mac = hmac.digest(self._ean_key, b"%d:%d:%d" % (campaign_id, round_number, right), "sha256")
            left, right = right, (left + int.from_bytes(mac[:4], "big")) % 1000
        return left * 1000 + right
