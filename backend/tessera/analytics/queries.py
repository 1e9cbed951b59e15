"""Analytics read only the event log: all-time figures from its rollups plus the events after
them, figures of a time window (or of one customer) from the events themselves."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.analytics import rollup
from tessera.analytics.fold import Dimension, Tallies, Tally, Target, fold, fold_hours
from tessera.analytics.schemas import ChannelReport, ChannelRow, CustomerProfile, DayRow, GroupBy
from tessera.analytics.sketch import percentiles
from tessera.models.analytics import ALL_CAMPAIGNS
from tessera.models.campaigns import Campaign
from tessera.models.events import Event
from tessera.models.stores import Store


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

    @property
    def all_time(self) -> bool:
        return self.since is None and self.until is None and self.customer_id is None


async def channel_report(session: AsyncSession, window: Window, by: GroupBy, currency: str) -> ChannelReport:
    """The funnel per value of ``by`` (rows sorted by key)."""
    return ChannelReport(by=by, rows=await funnel(session, window, by), currency=currency)


async def funnel(session: AsyncSession, window: Window, by: Dimension) -> list[ChannelRow]:
    tallies = await figures(session, window, by)
    return [_row(key, tally) for (_, _, key), tally in sorted(tallies.items())]


async def figures(session: AsyncSession, window: Window, by: Dimension) -> Tallies:
    """Figures per key of ``by`` for ``window``: from the rollups when they hold them."""
    await rollup.consistent_reads(session)
    target: Target = ("campaign" if window.campaign_id is not None else "all", by)
    if window.all_time and target in rollup.ROLLED_UP:
        scope = ALL_CAMPAIGNS if window.campaign_id is None else window.campaign_id
        return await rollup.read(session, scope, target)
    return await fold(session, window.where(), [target])


def _row(key: str, tally: Tally) -> ChannelRow:
    issued = tally.of("issued").quantity
    redeemed, voided = tally.of("redeemed"), tally.of("voided")
    net = redeemed.events - voided.events
    median, p90 = percentiles(tally.latency, (0.5, 0.9))
    return ChannelRow(
        key=key,
        issued=issued,
        notified=tally.of("notified").firsts,
        pass_downloaded=tally.of("pass_downloaded").firsts,
        saved_to_wallet=tally.of("wallet_saved").firsts,
        removed_from_wallet=tally.of("wallet_removed").firsts,
        validated=tally.of("validated").events,
        redemptions=redeemed.events,
        voided=voided.events,
        redeemed=net,
        expired=tally.of("expired").events,
        redemption_rate=round(net / issued, 4) if issued else None,
        median_seconds_to_redeem=median,
        p90_seconds_to_redeem=p90,
        revenue=redeemed.amount - voided.amount,
        discount_given=redeemed.discount - voided.discount,
        entries=tally.of("contest_entry").events,
        received=tally.of("sms_received").events,
        sent=tally.of("message_sent").events,
        delivered=tally.of("message_delivered").events,
        failed=tally.of("message_failed").events,
    )


async def daily(session: AsyncSession, window: Window, zone: ZoneInfo) -> list[DayRow]:
    """Counts per local day of ``zone``, from hourly figures (zones with half-hour offsets put
    the events of a day's boundary hour on the day that hour starts in)."""
    await rollup.consistent_reads(session)
    if window.all_time and window.campaign_id is not None:
        hours = await rollup.read_hours(session, window.campaign_id, DAILY_TYPES)
    else:
        where = [*window.where(), Event.type.in_(DAILY_TYPES)]
        hours = await fold_hours(session, where, per_campaign=False)
    days: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    local_days: dict[datetime, date] = {}  # each hour holds several event types
    for (_, hour, type_), figures in hours.items():
        local_day = local_days.get(hour)
        if local_day is None:
            local_day = local_days[hour] = hour.astimezone(zone).date()
        day = days[local_day]
        day[type_] += figures.quantity if type_ == "issued" else figures.events
        if type_ in ("redeemed", "voided"):
            day[f"{type_}_amount"] += figures.amount
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


async def customer_profile(
    session: AsyncSession, customer_id: int, now: datetime, currency: str
) -> CustomerProfile:
    """Reaction time, frequency (standing redemptions per 30 days since the first coupon) and value."""
    window = Window(customer_id=customer_id)
    tallies = await figures(session, window, "customer")
    row = _row(str(customer_id), tallies.get((ALL_CAMPAIGNS, "customer", str(customer_id))) or Tally())
    first_issue = await session.scalar(
        select(func.min(Event.occurred_at)).where(Event.customer_id == customer_id, Event.type == "issued")
    )
    frequency = None
    if first_issue is not None:
        months = max((now - first_issue).total_seconds() / (30 * 86400), 1.0)
        frequency = round(row.redeemed / months, 4)
    redemptions = (
        select(Event.coupon_id, Event.type, Event.occurred_at)
        .where(*window.where(), Event.type.in_(("redeemed", "voided")))
        .order_by(Event.coupon_id, Event.occurred_at, Event.id)
    )
    times = sorted(_standing_redemptions(await session.execute(redemptions)))
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
        currency=currency,
    )


def _standing_redemptions(rows: Iterable[Any]) -> Iterable[datetime]:
    """The times of the redemptions no later void cancelled: each void undoes the coupon's latest."""
    standing: dict[int, list[datetime]] = defaultdict(list)
    for coupon_id, type_, occurred_at in rows:
        if type_ == "redeemed":
            standing[coupon_id].append(occurred_at)
        elif standing[coupon_id]:
            standing[coupon_id].pop()
    for kept in standing.values():
        yield from kept


EXPORT_BATCH = 2000


async def redemption_rows(
    readers: async_sessionmaker[AsyncSession], window: Window
) -> AsyncGenerator[list[Any], None]:
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
