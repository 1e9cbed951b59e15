"""The one parser for everything a scanner or a person can present, and the payload writer.

Barcodes Tessera prints carry ``TSR1:<medium tag>:<code>`` (all QR alphanumeric characters, so
the QR stays small); EAN-13 symbols carry the bare 13 digits. Anything else is a typed code.
Every reader goes through ``parse``; every writer gets its payload from ``payload_for``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from tessera.codes.formats import is_valid_ean13, is_valid_random, normalize
from tessera.errors import NotFound

Medium = Literal["apple_wallet", "google_wallet", "pwa", "print", "manual"]
MEDIA: Final[tuple[Medium, ...]] = ("apple_wallet", "google_wallet", "pwa", "print", "manual")
PAYLOAD_PREFIX: Final = "TSR1"
_TAG_OF: Final[dict[Medium, str]] = {"apple_wallet": "A", "google_wallet": "G", "pwa": "P", "print": "R"}
_MEDIUM_OF: Final[dict[str, Medium]] = {tag: medium for medium, tag in _TAG_OF.items()}
MAX_PRESENTED_LENGTH: Final = 128


class InvalidCode(NotFound):
    """Unknown, forged and malformed codes all get this one answer."""

    code = "invalid_code"
    title = "Not a valid code"

    def __init__(self) -> None:
        super().__init__("This code is not valid")


@dataclass(frozen=True, slots=True)
class PresentedCode:
    code: str
    medium: Medium
    format: Literal["random", "ean13"]


def parse(presented: str, *, typed: bool = False) -> PresentedCode:
    """Turn a scanned payload or a typed code into ``(code, medium)``, or raise ``InvalidCode``.

    ``typed`` marks input from a keyboard: the medium is then ``manual`` whatever was typed.
    """
    if len(presented) > MAX_PRESENTED_LENGTH:
        raise InvalidCode
    text = presented.strip()
    medium: Medium | None = None
    head, sep, rest = text.partition(":")
    if sep and head.upper() == PAYLOAD_PREFIX:
        tag, sep, body = rest.partition(":")
        medium = _MEDIUM_OF.get(tag.upper())
        if not sep or medium is None:
            raise InvalidCode
        text = body
    code = normalize(text)
    if is_valid_ean13(code):
        return PresentedCode(code, "manual" if typed else (medium or "print"), "ean13")
    if is_valid_random(code):
        return PresentedCode(code, "manual" if typed else (medium or "manual"), "random")
    raise InvalidCode


def payload_for(code: str, medium: Medium) -> str:
    """The barcode payload for ``code`` shown on ``medium``; EAN-13 symbols hold digits only."""
    if medium == "manual":
        raise ValueError("manual entry has no barcode payload")
    return f"{PAYLOAD_PREFIX}:{_TAG_OF[medium]}:{code}"
