from __future__ import annotations

from typing import Annotated

import msgspec

Base64Url = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]+={0,2}$")]


class SubscriptionKeys(msgspec.Struct, forbid_unknown_fields=True):
    p256dh: Annotated[Base64Url, msgspec.Meta(min_length=80, max_length=100)]
    auth: Annotated[Base64Url, msgspec.Meta(min_length=16, max_length=32)]


class SubscriptionInput(msgspec.Struct, forbid_unknown_fields=True):
    """What ``PushSubscription.toJSON()`` gives in the browser (``expirationTime`` ignored)."""

    endpoint: Annotated[str, msgspec.Meta(min_length=10, max_length=2048)]
    keys: SubscriptionKeys
    expirationTime: int | None = None


class SubscriptionRemoval(msgspec.Struct, forbid_unknown_fields=True):
    endpoint: Annotated[str, msgspec.Meta(min_length=10, max_length=2048)] | None = None


class VapidPublicKey(msgspec.Struct):
    public_key: str  # the browser's applicationServerKey (base64url, uncompressed P-256 point)


class SubscriptionView(msgspec.Struct):
    id: int
    endpoint: str
