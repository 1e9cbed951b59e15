from __future__ import annotations

from typing import Annotated

import msgspec

from tessera.core.schemas import Id, ShortText
from tessera.models.auth import StaffUser
from tessera.models.stores import Store


class Location(msgspec.Struct, forbid_unknown_fields=True):
    """Where the store is: wallet passes show up on the lock screen near it."""

    latitude: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    longitude: Annotated[float, msgspec.Meta(ge=-180, le=180)]


TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class StoreCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: ShortText
    timezone: TimeZone = "UTC"
    location: Location | None = None
    auto_redeem: bool = False


class StoreUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: ShortText | msgspec.UnsetType = msgspec.UNSET
    timezone: TimeZone | msgspec.UnsetType = msgspec.UNSET
    location: Location | msgspec.UnsetType | None = msgspec.UNSET
    auto_redeem: bool | msgspec.UnsetType = msgspec.UNSET


class StoreView(msgspec.Struct):
    id: int
    name: str
    timezone: str
    location: Location | None = None
    auto_redeem: bool = False

    @classmethod
    def of(cls, store: Store) -> StoreView:
        location = None
        if store.latitude is not None and store.longitude is not None:
            location = Location(store.latitude, store.longitude)
        return cls(store.id, store.name, store.timezone, location, store.auto_redeem)


class StaffCreate(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")]
    password: Annotated[str, msgspec.Meta(min_length=10, max_length=256)]
    store_id: Id
    can_void: bool = True


class StaffUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """A new password (a reset), store, voiding right, or ``disabled`` (a leaver: every token
    of the account stops working; ``false`` lets it sign in again)."""

    password: Annotated[str, msgspec.Meta(min_length=10, max_length=256)] | msgspec.UnsetType = msgspec.UNSET
    store_id: Id | msgspec.UnsetType = msgspec.UNSET
    can_void: bool | msgspec.UnsetType = msgspec.UNSET
    disabled: bool | msgspec.UnsetType = msgspec.UNSET


class StaffView(msgspec.Struct):
    id: int
    username: str
    store_id: int
    can_void: bool
    disabled: bool = False

    @classmethod
    def of(cls, user: StaffUser) -> StaffView:
        return cls(user.id, user.username, user.store_id, user.can_void, user.disabled_at is not None)


class StaffSessionView(msgspec.Struct):
    """What the scanner needs to know about whoever holds the token."""

    staff_id: int
    username: str
    can_void: bool
    store: StoreView
