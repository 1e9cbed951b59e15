"""SMS keywords: the word a customer texts to receive a campaign's coupon (``tessera.sms``).

Stored in upper case without accents, so one unique index makes them unique case-insensitively.
The command words of the SMS channel (STOP, HELP and their translations) are never keywords.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Final

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.core.errors import Conflict, InvalidValue
from tessera.models.campaigns import Campaign

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


class KeywordTaken(Conflict):
    code = "sms_keyword_taken"
    title = "Another campaign has this SMS keyword"


def folded(text: str) -> str:
    """``text`` in upper case without accents or surrounding space (``Leiratkozás`` →
    ``LEIRATKOZAS``), inner runs of space as one."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _SPACE.sub(" ", ascii_text).strip().upper()


def stored_keyword(keyword: str) -> str:
    """A campaign's keyword as stored; refused (422) when it is a command word."""
    word = keyword.upper()
    if word in RESERVED_WORDS:
        raise InvalidValue(f"{word} is a command of the SMS channel, not a keyword", field="sms_keyword")
    return word


async def check_free(session: AsyncSession, keyword: str, campaign_id: int | None = None) -> None:
    """Refuse (409) a keyword another campaign holds."""
    holder = await session.scalar(select(Campaign.id).where(Campaign.sms_keyword == keyword))
    if holder is not None and holder != campaign_id:
        raise KeywordTaken(
            f"The SMS keyword {keyword} belongs to campaign {holder}", field="sms_keyword", campaign_id=holder
        )
