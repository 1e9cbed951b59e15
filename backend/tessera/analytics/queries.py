"""Analytics read only the event log (plus the coupon's issue time and the campaign's discount,
which never change after the fact)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.analytics.schemas import ChannelReport, ChannelRow, GroupBy
from tessera.campaigns.models import Campaign
from tessera.coupons.models import Coupon
from tessera.events.models import Event

# Event types counted as distinct coupons (a pass downloaded twice is one coupon downloaded).
PER_COUPON = {
    "notified": "notified",
    "pass_downloaded": "pass_downloaded",
    "wallet_saved": "saved_to_wallet",
    "wallet_removed": "removed_from_wallet",
}


@dataclass(frozen=True, slots=True)
class Window:
    campaign_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.campaign_id is not None:
            conditions.append(Event.campaign_id == self.campaign_id)
        if self.since is not None:
            conditions.append(Event.occurred_at >= self.since)
        if self.until is not None:
            conditions.append(Event.occurred_at < self.until)
        return conditions


@dataclass(slots=True)
class _Tally:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: list[float] = field(default_factory=list)
    revenue: int = 0
    discount_given: int = 0


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (what PostgreSQL's percentile_cont does)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def discount_given(kind: str, value: int, order_total: int | None) -> int:
    """What a redemption gave away: a share of the order for percentages (0 when the till sent
    no order total), the amount itself for fixed discounts, nothing countable for free items."""
    if kind == "percent":
        return (order_total or 0) * value // 100
    if kind == "amount":
        return value
    return 0


async def channel_report(session: AsyncSession, window: Window, by: GroupBy) -> ChannelReport:
    key = Event.channel if by == "channel" else Event.medium
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    totals = select(
        key,
        Event.type,
        func.sum(Event.quantity),
        func.count(),
        func.count(func.distinct(Event.coupon_id)),
    ).where(*window.where(), key.is_not(None))
    for group, type_, quantity, count, coupons in await session.execute(totals.group_by(key, Event.type)):
        tally = tallies[str(group)]
        if type_ == "issued":
            tally.counts["issued"] += int(quantity)
        elif type_ in PER_COUPON:
            tally.counts[PER_COUPON[type_]] += int(coupons)
        elif type_ in ("validated", "redeemed", "voided"):
            tally.counts[type_] += int(count)

    redemptions = (
        select(
            key,
            Event.coupon_id,
            Event.type,
            Event.occurred_at,
            Event.amount,
            Coupon.issued_at,
            Campaign.discount_kind,
            Campaign.discount_value,
        )
        .join(Coupon, Coupon.id == Event.coupon_id)
        .join(Campaign, Campaign.id == Coupon.campaign_id)
        .where(*window.where(), key.is_not(None), Event.type.in_(("redeemed", "voided")))
        .order_by(Event.coupon_id, Event.occurred_at, Event.id)
    )
    for group, row in _standing_redemptions(await session.execute(redemptions)):
        tally = tallies[group]
        tally.seconds.append((row.occurred_at - row.issued_at).total_seconds())
        tally.revenue += row.amount or 0
        tally.discount_given += discount_given(row.discount_kind, row.discount_value, row.amount)

    rows = [_row(group, tally) for group, tally in sorted(tallies.items())]
    return ChannelReport(by=by, rows=rows)


def _standing_redemptions(rows: Iterable[Any]) -> Iterable[tuple[str, Any]]:
    """The redemptions no later void cancelled: each void undoes the coupon's latest one."""
    standing: dict[int, list[tuple[str, Any]]] = defaultdict(list)
    for row in rows:
        group, coupon_id, type_ = row[0], row[1], row[2]
        if type_ == "redeemed":
            standing[coupon_id].append((group, row))
        elif standing[coupon_id]:
            standing[coupon_id].pop()
    for kept in standing.values():
        yield from kept


def _row(key: str, tally: _Tally) -> ChannelRow:
    counts = tally.counts
    redeemed = counts["redeemed"] - counts["voided"]
    ordered = sorted(tally.seconds)
    issued = counts["issued"]
    return ChannelRow(
        key=key,
        issued=issued,
        notified=counts["notified"],
        pass_downloaded=counts["pass_downloaded"],
        saved_to_wallet=counts["saved_to_wallet"],
        removed_from_wallet=counts["removed_from_wallet"],
        validated=counts["validated"],
        redemptions=counts["redeemed"],
        voided=counts["voided"],
        redeemed=redeemed,
        redemption_rate=round(redeemed / issued, 4) if issued else None,
        median_seconds_to_redeem=percentile(ordered, 0.5),
        p90_seconds_to_redeem=percentile(ordered, 0.9),
        revenue=tally.revenue,
        discount_given=tally.discount_given,
    )
