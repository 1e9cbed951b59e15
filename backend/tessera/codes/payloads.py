"""The one parser for everything a scanner or a person can present, and the payload writer.

Coupon barcodes Tessera prints carry ``TSR1:<medium tag>:<code>`` (all QR alphanumeric
characters, so the QR stays small); EAN-13 symbols carry the bare 13 digits. Member cards carry
``TSM1:<medium tag>:<member code>``. Anything else is a typed code: a coupon code or a member
code, told apart by their check characters (``formats``). Every reader goes through ``parse``
(coupons) or ``parse_member`` (member cards), which share one classification, so a member card
is never taken for a coupon nor a coupon for a member card; every writer gets its payload from
``payload_for`` or ``member_payload_for``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from tessera.codes.formats import is_valid_ean13, is_valid_member, is_valid_random, normalize
from tessera.core.errors import NotFound

# ``member_card``: a coupon redeemed from the member-card screen (the staff scanned the member
# card and picked one of the customer's open coupons).
Medium = Literal["apple_wallet", "google_wallet", "pwa", "print", "manual", "member_card"]
MEDIA: Final[tuple[Medium, ...]] = ("apple_wallet", "google_wallet", "pwa", "print", "manual", "member_card")
# Where a member card was shown (``manual``: its number was typed).
CardMedium = Literal["apple_wallet", "google_wallet", "pwa", "manual"]
CARD_MEDIA: Final[tuple[CardMedium, ...]] = ("apple_wallet", "google_wallet", "pwa", "manual")
PAYLOAD_PREFIX: Final = "TSR1"
MEMBER_PAYLOAD_PREFIX: Final = "TSM1"
_TAG_OF: Final[dict[Medium, str]] = {
    "apple_wallet": "A",
    "google_wallet": "G",
    "pwa": "P",
    "print": "R",
    "member_card": "M",
}
_MEDIUM_OF: Final[dict[str, Medium]] = {tag: medium for medium, tag in _TAG_OF.items()}
_CARD_TAG_OF: Final[dict[CardMedium, str]] = {"apple_wallet": "A", "google_wallet": "G", "pwa": "P"}
_CARD_MEDIUM_OF: Final[dict[str, CardMedium]] = {tag: medium for medium, tag in _CARD_TAG_OF.items()}
MAX_PRESENTED_LENGTH: Final = 128


class InvalidCode(NotFound):
    """Unknown, forged and malformed codes all get this one answer."""

    code = "invalid_code"
    title = "Not a valid code"

    def __init__(self) -> None:
        super().__init__("This code is not valid")


class InvalidMemberCode(NotFound):
    """Unknown, forged, malformed and withdrawn member cards (and coupons shown as one) all get
    this one answer."""

    code = "invalid_member_code"
    title = "Not a valid member card"

    def __init__(self) -> None:
        super().__init__("This is not a valid member card")


@dataclass(frozen=True, slots=True)
class PresentedCode:
    code: str
    medium: Medium
    format: Literal["random", "ean13"]


@dataclass(frozen=True, slots=True)
class PresentedMember:
    code: str
    medium: CardMedium


def _classify(presented: str, typed: bool) -> PresentedCode | PresentedMember | None:
    """What ``presented`` is, judged by its prefix and check character alone; None: nothing."""
    if len(presented) > MAX_PRESENTED_LENGTH:
        return None
    text = presented.strip()
    kind: Literal["coupon", "member"] | None = None
    medium: Medium | None = None
    card_medium: CardMedium | None = None
    head, sep, rest = text.partition(":")
    if sep and head.upper() in (PAYLOAD_PREFIX, MEMBER_PAYLOAD_PREFIX):
        tag, sep, body = rest.partition(":")
        if head.upper() == PAYLOAD_PREFIX:
            kind, medium = "coupon", _MEDIUM_OF.get(tag.upper())
        else:
            kind, card_medium = "member", _CARD_MEDIUM_OF.get(tag.upper())
        if not sep or (medium is None and card_medium is None):
            return None
        text = body
    code = normalize(text)
    if kind != "member":
        if is_valid_ean13(code):
            return PresentedCode(code, "manual" if typed else (medium or "print"), "ean13")
        if is_valid_random(code):
            return PresentedCode(code, "manual" if typed else (medium or "manual"), "random")
    if kind != "coupon" and is_valid_member(code):
        return PresentedMember(code, "manual" if typed else (card_medium or "manual"))
    return None


def parse(presented: str, *, typed: bool = False) -> PresentedCode:
    """Turn a scanned payload or a typed code into ``(code, medium)``, or raise ``InvalidCode``
    (a member card included).

    ``typed`` marks input from a keyboard: the medium is then ``manual`` whatever was typed.
    """
    found = _classify(presented, typed)
    if not isinstance(found, PresentedCode):
        raise InvalidCode
    return found


def parse_member(presented: str, *, typed: bool = False) -> PresentedMember:
    """Turn a scanned member card or a typed member number into ``(code, medium)``, or raise
    ``InvalidMemberCode`` (a coupon included)."""
    found = _classify(presented, typed)
    if not isinstance(found, PresentedMember):
        raise InvalidMemberCode
    return found


def payload_for(code: str, medium: Medium) -> str:
    """The barcode payload for ``code`` shown on ``medium``; EAN-13 symbols hold digits only.

    ``member_card`` payloads are not printed anywhere: the member lookup hands them to the till,
    which redeems with them so the redemption records that the member card was shown."""
    if medium == "manual":
        raise ValueError("manual entry has no barcode payload")
    return f"{PAYLOAD_PREFIX}:{_TAG_OF[medium]}:{code}"


def member_payload_for(code: str, medium: CardMedium) -> str:
    """The barcode payload of a member card shown on ``medium``."""
    if medium == "manual":
        raise ValueError("manual entry has no barcode payload")
    return f"{MEMBER_PAYLOAD_PREFIX}:{_CARD_TAG_OF[medium]}:{code}"
