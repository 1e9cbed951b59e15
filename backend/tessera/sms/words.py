"""How an inbound text is read: the gateway's signature, the command words (STOP, HELP and
their German, Italian and Hungarian forms) and campaign keywords."""

from __future__ import annotations

import hmac
import re
from typing import Final

from tessera.campaigns.keywords import HELP_WORDS, KEYWORD_PATTERN, RESERVED_WORDS, STOP_WORDS, folded

SIGNATURE_PREFIX: Final = "sha256="


def signed(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is ``sha256=`` and the hex HMAC-SHA256 of ``body`` keyed with
    ``secret``, compared in constant time. No secret: nothing is signed."""
    if not secret or header is None or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, "sha256").hexdigest()
    return hmac.compare_digest(header[len(SIGNATURE_PREFIX) :].strip().lower().encode(), expected.encode())


def command_of(text: str) -> str | None:
    """``stop`` or ``help`` when the text's first word is one of theirs."""
    first = folded(text).partition(" ")[0].strip(".!")
    if first in STOP_WORDS:
        return "stop"
    if first in HELP_WORDS:
        return "help"
    return None


def keyword_of(text: str) -> str | None:
    """The text as a campaign keyword would be stored, when it is one word that could be one."""
    word = folded(text).strip(".!")
    if re.fullmatch(KEYWORD_PATTERN, word) is None or word in RESERVED_WORDS:
        return None
    return word
