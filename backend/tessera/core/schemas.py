"""Shapes shared by several areas' request and response bodies."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import msgspec

T = TypeVar("T")

ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LongText = Annotated[str, msgspec.Meta(max_length=4000)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
AttributeValue = str | int | float | bool
# Not bounded here: an empty, overlong or otherwise malformed code gets the same answer as an
# unknown one (404), which the code parser gives without a lookup.
PresentedText = Annotated[
    str,
    msgspec.Meta(description="What the scanner read (any barcode payload Tessera printed) or staff typed"),
]
Channel = Annotated[str, msgspec.Meta(pattern=r"^(pwa|push|email|sms|print|api)$")]
CHANNELS = ("pwa", "push", "email", "sms", "print", "api")
MAX_PAGE = 200
# The largest INTEGER and BIGINT values (PostgreSQL; SQLite integers are 64-bit). A number beyond
# the column it lands in is invalid input, not a database error.
MAX_INT = 2**31 - 1
MAX_BIGINT = 2**63 - 1
# Stores, staff, customers, campaigns and code batches have INTEGER keys; coupons and redemptions BIGINT.
Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_INT)]


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None
