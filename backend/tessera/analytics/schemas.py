from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

GroupBy = Literal["channel", "medium"]


class ChannelRow(msgspec.Struct):
    """One distribution channel (``by=channel``) or presented medium (``by=medium``).

    Counts of coupons are distinct coupons; ``redeemed`` is net of voids; the times are from a
    coupon's issue to its (not voided) redemption; money is in minor units of the
    report's ``currency``. ``entries`` are contest entries, ``received`` inbound messages read
    (SMS: keyword requests, codes, STOP, HELP), ``sent`` messages a gateway took, ``delivered``
    and ``failed`` what the gateways' receipts (and, for ``failed``, the messages given up
    unsent) tell; sign-in codes are not counted.
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
    expired: int
    redemption_rate: float | None
    median_seconds_to_redeem: float | None
    p90_seconds_to_redeem: float | None
    revenue: int
    discount_given: int
    entries: int
    received: int
    sent: int
    delivered: int
    failed: int


class ChannelReport(msgspec.Struct):
    by: GroupBy
    rows: list[ChannelRow]
    currency: str  # of every row's money: the installation's one currency


class NamedRow(ChannelRow):
    """A funnel row of one campaign or store, with its name."""

    name: str = ""


class Breakdown(msgspec.Struct):
    rows: list[NamedRow]
    currency: str


class DayRow(msgspec.Struct):
    """One local day: events counted on the day they happened (``saved_to_wallet`` counts saves)."""

    date: date
    issued: int
    notified: int
    saved_to_wallet: int
    redemptions: int
    voided: int
    redeemed: int
    revenue: int


class DailySeries(msgspec.Struct):
    time_zone: str
    days: list[DayRow]
    currency: str


class CustomerProfile(msgspec.Struct):
    """How one customer responds: for segmenting by reaction time, frequency and value."""

    customer_id: int
    issued: int
    redeemed: int
    redemption_rate: float | None
    median_seconds_to_redeem: float | None
    redemptions_per_30_days: float | None
    first_redeemed_at: datetime | None
    last_redeemed_at: datetime | None
    revenue: int
    discount_given: int
    currency: str
