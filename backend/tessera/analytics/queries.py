"""Analytics read only the event log (plus the coupon's issue time and the campaign's discount,
which never change after the fact)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, literal_column, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.analytics.schemas import ChannelReport, ChannelRow, CustomerProfile, DayRow, GroupBy
from tessera.campaigns.models import Campaign
from tessera.coupons.models import Coupon
from tessera.db.base import UTCDateTime
from tessera.events.models import Event
from tessera.stores.models import Store

# Event types counted as distinct coupons (a pass downloaded twice is one coupon downloaded).
PER_COUPON = {
    "notified": "notified",
    "pass_downloaded": "pass_downloaded",
    "wallet_saved": "saved_to_wallet",
    "wallet_removed": "removed_from_wallet",
}


GROUP_KEYS: dict[str, Any] = {
    "channel": Event.channel,
    "medium": Event.medium,
    "campaign": Event.campaign_id,
    "store": Event.store_id,
    "customer": Event.customer_id,
}


@dataclass(frozen=True, slots=True)
class Window:
    campaign_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    customer_id: int | None = None

    def where(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.campaign_id is not None:
            conditions.append(Event.campaign_id == self.campaign_id)
        if self.customer_id is not None:
            conditions.append(Event.customer_id == self.customer_id)
        if self.since is not None:
            conditions.append(Event.occurred_at >= self.since)
        if self.until is not None:
            conditions.append(Event.occurred_at < self.until)
        return conditions


@dataclass(slots=True)
class _Tally:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: list[float] = field(default_factory=list)
    redeemed_at: list[datetime] = field(default_factory=list)
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
    """The funnel per value of ``by`` (rows sorted by key)."""
    return ChannelReport(by=by, rows=await funnel(session, window, by))


async def funnel(session: AsyncSession, window: Window, by: str) -> list[ChannelRow]:
    tallies = await _tallies(session, window, by)
    return [_row(group, tally) for group, tally in sorted(tallies.items())]


async def _tallies(session: AsyncSession, window: Window, by: str) -> dict[str, _Tally]:
    key = GROUP_KEYS[by]
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
        tally = tallies[str(group)]
        tally.seconds.append((row.occurred_at - row.issued_at).total_seconds())
        tally.redeemed_at.append(row.occurred_at)
        tally.revenue += row.amount or 0
        tally.discount_given += discount_given(row.discount_kind, row.discount_value, row.amount)

    return tallies


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


def _hour_of(session: AsyncSession) -> ColumnElement[datetime]:
    """The UTC hour an event falls in, as an aware datetime on both stores."""
    if session.get_bind().dialect.name == "postgresql":
        hour = func.date_trunc("hour", Event.occurred_at.op("AT TIME ZONE")(literal_column("'UTC'")))
    else:
        hour = func.strftime("%Y-%m-%d %H:00:00.000000", Event.occurred_at)
    return type_coerce(hour, UTCDateTime)


async def daily(session: AsyncSession, window: Window, zone: ZoneInfo) -> list[DayRow]:
    """Counts per local day of ``zone``, from hourly buckets (zones with half-hour offsets put
    the events of a day's boundary hour on the day that hour starts in)."""
    hour = _hour_of(session)
    query = (
        select(hour, Event.type, func.sum(Event.quantity), func.count(), func.sum(Event.amount))
        .where(*window.where(), Event.type.in_(DAILY_TYPES))
        .group_by(hour, Event.type)
    )
    days: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for bucket, type_, quantity, count, amount in await session.execute(query):
        day = days[bucket.astimezone(zone).date()]
        day[type_] += int(quantity) if type_ == "issued" else int(count)
        if type_ in ("redeemed", "voided"):
            day[f"{type_}_amount"] += int(amount or 0)
    return [
        DayRow(
            date=day,
            issued=counts["issued"],
            notified=counts["notified"],
            saved_to_wallet=counts["wallet_saved"],
            redemptions=counts["redeemed"],
            voided=counts["voided"],
            redeemed=counts["redeemed"] - counts["voided"],
            revenue=counts["redeemed_amount"] - counts["voided_amount"],
        )
        for day, counts in sorted(days.items())
    ]


DAILY_TYPES = ("issued", "notified", "wallet_saved", "redeemed", "voided")


async def customer_profile(session: AsyncSession, customer_id: int, now: datetime) -> CustomerProfile:
    """Reaction time, frequency (standing redemptions per 30 days since the first coupon) and value."""
    tally = (await _tallies(session, Window(customer_id=customer_id), "customer")).get(str(customer_id))
    tally = tally or _Tally()
    row = _row(str(customer_id), tally)
    first_issue = await session.scalar(
        select(func.min(Event.occurred_at)).where(Event.customer_id == customer_id, Event.type == "issued")
    )
    frequency = None
    if first_issue is not None:
        months = max((now - first_issue).total_seconds() / (30 * 86400), 1.0)
        frequency = round(row.redeemed / months, 4)
    times = sorted(tally.redeemed_at)
    return CustomerProfile(
        customer_id=customer_id,
        issued=row.issued,
        redeemed=row.redeemed,
        redemption_rate=row.redemption_rate,
        median_seconds_to_redeem=row.median_seconds_to_redeem,
        redemptions_per_30_days=frequency,
        first_redeemed_at=times[0] if times else None,
        last_redeemed_at=times[-1] if times else None,
        revenue=row.revenue,
        discount_given=row.discount_given,
    )


EXPORT_BATCH = 2000


async def redemption_rows(
    readers: async_sessionmaker[AsyncSession], window: Window
) -> AsyncIterator[list[Any]]:
    """Every redemption and void event in event order, fetched a batch at a time."""
    query = (
        select(
            Event.occurred_at,
            Event.type,
            Event.campaign_id,
            Campaign.name,
            Event.coupon_id,
            Event.channel,
            Event.medium,
            Event.store_id,
            Store.name,
            Event.staff_id,
            Event.amount,
        )
        .outerjoin(Campaign, Campaign.id == Event.campaign_id)
        .outerjoin(Store, Store.id == Event.store_id)
        .where(*window.where(), Event.type.in_(("redeemed", "voided")))
        .order_by(Event.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    async with readers() as session:
        result = await session.stream(query)
        async for row in result:
            yield [row[0].isoformat().replace("+00:00", "Z"), *row[1:]]
