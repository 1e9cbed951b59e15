from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from tessera.core.schemas import Id

TriggerKind = Literal["on_registration", "on_redemption", "inactive_for", "birthday", "before_expiry"]


class Trigger(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What issues a campaign's coupons. ``campaign_id``: the campaign whose coupons are watched
    (``on_redemption``, ``before_expiry``); ``days``: how long without activity
    (``inactive_for``); ``hours``: how long before that coupon expires (``before_expiry``)."""

    kind: TriggerKind
    campaign_id: Id | None = None
    days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    hours: Annotated[int, msgspec.Meta(ge=1, le=8760)] | None = None
