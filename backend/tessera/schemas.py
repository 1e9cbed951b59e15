"""Shapes shared by several areas' request and response bodies."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import msgspec

T = TypeVar("T")

ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LongText = Annotated[str, msgspec.Meta(max_length=4000)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
AttributeValue = str | int | float | bool
Channel = Annotated[str, msgspec.Meta(pattern=r"^(pwa|push|email|sms|print|api)$")]
CHANNELS = ("pwa", "push", "email", "sms", "print", "api")
MAX_PAGE = 200


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None
