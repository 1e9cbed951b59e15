from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from tessera.core.schemas import AttributeValue, ShortText, Tag

# No "@", white space or control character (spelled out: Python's and JavaScript's \s differ).
_ADDRESS_CHAR = r"[^@\s\x00-\x1f\x7f\x85\ufeff]"
Email = Annotated[
    str, msgspec.Meta(max_length=320, pattern=rf"^{_ADDRESS_CHAR}+@{_ADDRESS_CHAR}+\.{_ADDRESS_CHAR}+$")
]
Phone = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9]{6,15}$")]
Locale = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]
# An IANA zone name such as ``Europe/Rome`` (checked against the zone database).
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class ConsentInput(msgspec.Struct, forbid_unknown_fields=True):
    terms: bool
    marketing: bool
    push: bool = False


class ConsentUpdate(msgspec.Struct, forbid_unknown_fields=True):
    marketing: bool | msgspec.UnsetType = msgspec.UNSET
    push: bool | msgspec.UnsetType = msgspec.UNSET


class CustomerCreate(msgspec.Struct, forbid_unknown_fields=True):
    consent: ConsentInput
    email: Email | None = None
    phone: Phone | None = None
    name: ShortText | None = None
    birthday: date | None = None
    locale: Locale | None = None
    timezone: TimeZone | None = None
    tags: Annotated[list[Tag], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    attributes: Annotated[dict[Tag, AttributeValue], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=dict
    )


class CustomerUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: ShortText | msgspec.UnsetType | None = msgspec.UNSET
    birthday: date | msgspec.UnsetType | None = msgspec.UNSET
    locale: Locale | msgspec.UnsetType | None = msgspec.UNSET
    timezone: TimeZone | msgspec.UnsetType | None = msgspec.UNSET
    consent: ConsentUpdate | msgspec.UnsetType = msgspec.UNSET


class CustomerProfileUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """What a marketer may change of a customer: never the contact or the consents, which only
    the customer gives."""

    tags: Annotated[list[Tag], msgspec.Meta(max_length=50)] | msgspec.UnsetType = msgspec.UNSET
    attributes: Annotated[dict[Tag, AttributeValue], msgspec.Meta(max_length=50)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    birthday: date | msgspec.UnsetType | None = msgspec.UNSET
    locale: Locale | msgspec.UnsetType | None = msgspec.UNSET
    timezone: TimeZone | msgspec.UnsetType | None = msgspec.UNSET


class CustomerCreated(msgspec.Struct):
    id: int
    token: str
    coupons_issued: int


class ConsentState(msgspec.Struct):
    terms: bool
    marketing: bool
    push: bool


class CustomerView(msgspec.Struct):
    id: int
    email: str | None
    phone: str | None
    name: str | None
    birthday: date | None
    locale: str | None
    timezone: str | None
    tags: list[str]
    attributes: dict[str, AttributeValue]
    consent: ConsentState
    created_at: datetime
