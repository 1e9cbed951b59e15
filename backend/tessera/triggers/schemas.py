from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from tessera.core.schemas import Id

TriggerKind = Literal["on_registration", "on_redemption", "inactive_for", "birthday", "before_expiry"]
# How the customer hears of the coupon: a push (where they consented to one), or a message.
TriggerChannel = Literal["push", "email", "sms"]


class Trigger(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What issues a campaign's coupons. ``campaign_id``: the campaign whose coupons are watched
    (``on_redemption``, ``before_expiry``); ``days``: how long without activity
    (``inactive_for``); ``hours``: how long before that coupon expires (``before_expiry``);
    ``channel``: how the customer is told of the coupon (``push``, the default, or an
    ``email``/``sms`` message carrying its code)."""

    kind: TriggerKind
    campaign_id: Id | None = None
    days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    hours: Annotated[int, msgspec.Meta(ge=1, le=8760)] | None = None
    channel: TriggerChannel = "push"
