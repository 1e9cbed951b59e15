"""What contests derive from ``TESSERA_CODE_SECRET``: printed codes, participants' pseudonyms,
draw seeds and which serials of an instant win carry a prize.

Each comes from a key of its own (``CodeKeys.subkey``), so none of them can be worked out from
the database: it holds code digests, nonces and counters, never a code, a seed or a winner.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from tessera.codes.formats import BASE, VALUE_TO_CHAR, random_code_from_bytes
from tessera.codes.keys import CodeKeys

ALIAS_LENGTH = 12
_ALIAS_SIDE = BASE ** (ALIAS_LENGTH // 2)  # side**2 is every alias exactly
_FEISTEL_ROUNDS = 4


class ContestKeys:
    def __init__(self, keys: CodeKeys) -> None:
        self._codes = keys.subkey("contest-codes")
        self._aliases = keys.subkey("contest-participants")
        self._seeds = keys.subkey("contest-seeds")
        self._winners = keys.subkey("contest-instant-winners")
        self.digest = keys.digest

    def code(self, contest_id: int, serial: int, length: int) -> str:
        """The printed code of ``serial``: ``length - 1`` keyed characters and a check character."""
        raw = hmac.digest(self._codes, b"%d:%d" % (contest_id, serial), "sha256")
        return random_code_from_bytes(raw[: length - 1])

    def alias(self, contest_id: int, customer_id: int) -> str:
        """The participant's public pseudonym in this contest, e.g. ``7KX3-9QAB-MNPQ``: a keyed
        permutation of the customer id over the 31**12 (about 2**59) aliases, so two
        participants never share one, another contest gives the same customer another one, and
        nobody without the key can reverse it."""
        value = _feistel(self._aliases, b"%d" % contest_id, customer_id, _ALIAS_SIDE)
        digits = bytearray(ALIAS_LENGTH)
        for position in range(ALIAS_LENGTH - 1, -1, -1):
            value, digits[position] = divmod(value, BASE)
        text = bytes(digits).translate(VALUE_TO_CHAR).decode()
        return "-".join(text[i : i + 4] for i in range(0, ALIAS_LENGTH, 4))

    def seed(self, contest_id: int, nonce: bytes) -> bytes:
        """The draw's 32-byte seed; published only after the draw, its SHA-256 from the start."""
        return hmac.digest(self._seeds, b"%d:" % contest_id + nonce, "sha256")

    def commitment(self, contest_id: int, nonce: bytes) -> str:
        return hashlib.sha256(self.seed(contest_id, nonce)).hexdigest()

    def instant_rank(self, contest_id: int, serial: int, pool_size: int) -> int:
        """A keyed permutation of ``0 .. pool_size - 1``: serial ``s`` carries the prize whose
        slice of ranks holds ``instant_rank(s)`` (``rules.instant_prize``), so exactly as many
        codes win each prize as it counts, spread over the whole pool.

        A balanced Feistel network on ``Z_side x Z_side`` (modular addition) permutes
        ``0 .. side**2 - 1``; values past the pool are walked on through the permutation again
        (cycle walking), which permutes the pool itself. ``side**2 < pool_size + 2 * side``, so a
        walk rarely takes a second step.
        """
        if not 0 <= serial < pool_size:
            raise ValueError("serial outside the pool")
        side = math.isqrt(pool_size - 1) + 1
        value = serial
        while True:
            value = _feistel(self._winners, b"%d:%d" % (contest_id, pool_size), value, side)
            if value < pool_size:
                return value


def _feistel(key: bytes, tweak: bytes, value: int, side: int) -> int:
    """A keyed permutation of ``0 .. side**2 - 1``: a balanced Feistel network on
    ``Z_side x Z_side`` with modular addition, each round function an HMAC of ``tweak``."""
    left, right = divmod(value, side)
    for round_number in range(_FEISTEL_ROUNDS):
        mac = hmac.digest(key, b"%s:%d:%d" % (tweak, round_number, right), "sha256")
        left, right = right, (left + int.from_bytes(mac[:8], "big")) % side
    return left * side + right
