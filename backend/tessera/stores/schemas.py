from __future__ import annotations

from typing import Annotated

import msgspec

from tessera.schemas import ShortText


class StoreCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: ShortText
    timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "UTC"


class StoreView(msgspec.Struct):
    id: int
    name: str
    timezone: str


class StaffCreate(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")]
    password: Annotated[str, msgspec.Meta(min_length=10, max_length=256)]
    store_id: int
    can_void: bool = True


class StaffView(msgspec.Struct):
    id: int
    username: str
    store_id: int
    can_void: bool
