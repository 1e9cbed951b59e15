"""How an inbound text is read: the gateway's signature, the command words (STOP, HELP and
their German, Italian and Hungarian forms) and campaign keywords."""

from __future__ import annotations

import hmac
import re
import unicodedata
from typing import Annotated, Final

import msgspec

SIGNATURE_PREFIX: Final = "sha256="
# Sent in English or in the languages Tessera speaks, with or without accents.
STOP_WORDS: Final = frozenset(
    {
        "STOP",
        "STOPP",
        "UNSUBSCRIBE",
        "ABMELDEN",
        "BASTA",
        "ANNULLA",
        "DISISCRIVI",
        "LEIRATKOZAS",
        "LEIRATKOZOM",
    }
)
HELP_WORDS: Final = frozenset({"HELP", "INFO", "HILFE", "AIUTO", "SUGO", "SEGITSEG"})
RESERVED_WORDS: Final = STOP_WORDS | HELP_WORDS
KEYWORD_PATTERN: Final = r"^[A-Za-z0-9]{2,20}$"
Keyword = Annotated[
    str,
    msgspec.Meta(
        pattern=KEYWORD_PATTERN,
        description=(
            "2 to 20 letters or digits, matched case-insensitively; not STOP, HELP or their translations"
        ),
    ),
]
_SPACE = re.compile(r"\s+")


def signed(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is ``sha256=`` and the hex HMAC-SHA256 of ``body`` keyed with
    ``secret``, compared in constant time. No secret: nothing is signed."""
    if not secret or header is None or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, "sha256").hexdigest()
    return hmac.compare_digest(header[len(SIGNATURE_PREFIX) :].strip().lower().encode(), expected.encode())


def folded(text: str) -> str:
    """``text`` in upper case without accents or surrounding space (``Leiratkozás`` →
    ``LEIRATKOZAS``), inner runs of space as one."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _SPACE.sub(" ", ascii_text).strip().upper()


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


def stored_keyword(keyword: str) -> str | None:
    """A campaign's keyword as stored (upper case), or None when it is a reserved word."""
    word = keyword.upper()
    return None if word in RESERVED_WORDS else word
