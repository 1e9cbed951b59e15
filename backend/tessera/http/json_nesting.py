"""How deeply a JSON text nests, measured on its bytes before any decoder sees it.

A decoder walks nested arrays and objects recursively; a body of a few kilobytes of ``[`` can
reach the interpreter's recursion limit in the decoder or in whatever later walks the value.
No request of this API nests deeper than a handful of levels, so a deep body is refused
before decoding.
"""

from __future__ import annotations

import re
from itertools import accumulate

# Deeper than any body of the API (a campaign with a trigger and a wallet design is 4 levels).
MAX_JSON_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPENING = frozenset(b"[{")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def nests_deeper_than(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body``'s arrays and objects nest more than ``limit`` levels (brackets inside
    strings do not count). Malformed text is left to the decoder."""
    if body.count(b"[") + body.count(b"{") <= limit:  # the common case, at C speed
        return False
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    steps = (1 if byte in _OPENING else -1 for byte in brackets)
    return max(accumulate(steps), default=0) > limit
