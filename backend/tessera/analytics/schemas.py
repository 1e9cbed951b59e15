from __future__ import annotations

from typing import Literal

import msgspec

GroupBy = Literal["channel", "medium"]


class ChannelRow(msgspec.Struct):
    """One distribution channel (``by=channel``) or presented medium (``by=medium``).

    Counts of coupons are distinct coupons; ``redeemed`` is net of voids; the times are from a
    coupon's issue to its (not voided) redemption; money is in the campaign currency's minor unit.
    """

    key: str
    issued: int
    notified: int
    pass_downloaded: int
    saved_to_wallet: int
    removed_from_wallet: int
    validated: int
    redemptions: int
    voided: int
    redeemed: int
    redemption_rate: float | None
    median_seconds_to_redeem: float | None
    p90_seconds_to_redeem: float | None
    revenue: int
    discount_given: int


class ChannelReport(msgspec.Struct):
    by: GroupBy
    rows: list[ChannelRow]
