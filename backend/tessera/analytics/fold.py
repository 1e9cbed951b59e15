"""Folding events into figures: the one computation behind the rollups and every live read.

Every figure is additive over events, so figures of the rollups and of the events after them
simply add up: counts per event type, distinct coupons as the events that were a coupon's first
of their type, money as redemptions minus the voids that cancel them, and time to redeem as a
histogram (a redemption adds its time, a void takes the cancelled redemption's time away).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal,
    literal_column,
    null,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from tessera.analytics.sketch import LOG_GAMMA, ZERO_BUCKET
from tessera.core.db.base import UTCDateTime
from tessera.models.analytics import ALL_CAMPAIGNS
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.events import Event
from tessera.models.redemptions import Redemption

# Event types whose figure is the number of distinct coupons (a pass downloaded twice is one).
PER_COUPON = ("notified", "pass_downloaded", "wallet_saved", "wallet_removed")
# The coupon funnel: also kept per UTC hour, for the daily series.
FUNNEL = ("issued", *PER_COUPON, "validated", "redeemed", "voided", "expired")
# Contest entries, inbound SMS read and outgoing messages: counted per channel, not per hour.
CONTACTS = ("contest_entry", "sms_received", "message_sent", "message_delivered", "message_failed")
COUNTED = (*FUNNEL, *CONTACTS)
MONEY = ("redeemed", "voided")

Dimension = Literal["channel", "medium", "store", "campaign", "customer"]
ScopeKind = Literal["campaign", "all"]
# What a fold computes: figures per key of ``dimension``, per campaign or for all campaigns.
Target = tuple[ScopeKind, Dimension]
# The figures' address: (scope, dimension, key), scope being a campaign id or ALL_CAMPAIGNS.
Address = tuple[int, str, str]

_DIMENSION_COLUMNS: dict[str, Any] = {
    "channel": Event.channel,
    "medium": Event.medium,
    "store": Event.store_id,
    "campaign": Event.campaign_id,
    "customer": Event.customer_id,
}


@dataclass(slots=True)
class TypeFigures:
    events: int = 0
    quantity: int = 0
    firsts: int = 0
    amount: int = 0
    discount: int = 0

    def add(self, other: TypeFigures) -> None:
        self.events += other.events
        self.quantity += other.quantity
        self.firsts += other.firsts
        self.amount += other.amount
        self.discount += other.discount


@dataclass(slots=True)
class Tally:
    """Everything known about one key: figures per event type and the time-to-redeem buckets."""

    types: dict[str, TypeFigures] = field(default_factory=lambda: defaultdict(TypeFigures))
    latency: Counter[int] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        for type_, figures in other.types.items():
            self.types[type_].add(figures)
        self.latency.update(other.latency)

    def of(self, type_: str) -> TypeFigures:
        return self.types.get(type_) or TypeFigures()


Tallies = dict[Address, Tally]


def merge(into: Tallies, more: Tallies) -> Tallies:
    for address, tally in more.items():
        into.setdefault(address, Tally()).add(tally)
    return into


def discount_given(kind: str, value: int, order_total: int | None) -> int:
    """What a redemption gave away: a share of the order for percentages (0 when the till sent
    no order total), the amount itself for fixed discounts, nothing countable for free items."""
    if kind == "percent":
        return (order_total or 0) * value // 100
    if kind == "amount":
        return value
    return 0


def _bucket(
    session: AsyncSession, later: ColumnElement[datetime], earlier: InstrumentedAttribute[datetime]
) -> ColumnElement[Any]:
    """``sketch.bucket_of`` of the seconds from ``earlier`` to ``later``, computed by the
    database exactly as Python does: whole microseconds divided once by a million (a correctly
    rounded double, like ``timedelta.total_seconds``), the C library's ``log`` and the same
    ``LOG_GAMMA``. NULL when ``later`` is."""
    micros: ColumnElement[Any]
    if session.get_bind().dialect.name == "postgresql":
        micros = func.round(extract("epoch", later - earlier) * 1_000_000)
        greatest: Any = func.greatest
    else:
        # SQLite keeps times as 'YYYY-MM-DD HH:MM:SS.ffffff' text (``UTCDateTime``).
        def whole(column: ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[Any]:
            return func.strftime("%s", func.substr(column, 1, 19))

        def fraction(column: ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[Any]:
            return func.substr(column, 21, 6)

        micros = (whole(later) - whole(earlier)) * 1_000_000 + (fraction(later) - fraction(earlier))
        greatest = func.max  # with two arguments, SQLite's scalar max
    seconds = cast(micros, Float) / literal(1_000_000.0, Float)
    above_one = greatest(1, func.ceil(func.ln(seconds) / literal(LOG_GAMMA, Float)))
    return case(
        (micros.is_(None), null()),
        (micros < 1_000_000, ZERO_BUCKET),
        else_=cast(above_one, BigInteger),
    )


def _addresses(targets: Sequence[Target], values: dict[str, Any]) -> Iterable[Address]:
    for scope_kind, dimension in targets:
        key = values[dimension]
        if key is None:
            continue
        scope = ALL_CAMPAIGNS if scope_kind == "all" else values["campaign"]
        if scope is None:
            continue
        yield scope, dimension, str(key)


async def fold(
    session: AsyncSession, where: Sequence[ColumnElement[bool]], targets: Sequence[Target]
) -> Tallies:
    """The figures of the events matching ``where``, for each of ``targets``."""
    dimensions = sorted({"campaign", *(dimension for _, dimension in targets)})
    columns = [_DIMENSION_COLUMNS[name] for name in dimensions]
    tallies: Tallies = {}

    def tally_of(address: Address) -> Tally:
        tally = tallies.get(address)
        if tally is None:
            tally = tallies[address] = Tally()
        return tally

    counts = (
        select(*columns, Event.type, func.count(), func.sum(Event.quantity), func.sum(Event.amount))
        .where(*where, Event.type.in_(COUNTED))
        .group_by(*columns, Event.type)
    )
    for row in await session.execute(counts):
        values = dict(zip(dimensions, row[: len(dimensions)], strict=True))
        type_, events, quantity, amount = row[len(dimensions) :]
        for address in _addresses(targets, values):
            figures = tally_of(address).types[type_]
            figures.events += int(events)
            figures.quantity += int(quantity or 0)
            figures.amount += int(amount or 0)

    earlier = aliased(Event)
    first_of_coupon = ~exists().where(
        earlier.coupon_id == Event.coupon_id, earlier.type == Event.type, earlier.id < Event.id
    )
    firsts = (
        select(*columns, Event.type, func.count())
        .where(*where, Event.type.in_(PER_COUPON), Event.coupon_id.is_not(None), first_of_coupon)
        .group_by(*columns, Event.type)
    )
    for row in await session.execute(firsts):
        values = dict(zip(dimensions, row[: len(dimensions)], strict=True))
        type_, count = row[len(dimensions) :]
        for address in _addresses(targets, values):
            tally_of(address).types[type_].firsts += int(count)

    # Money and times to redeem, summed by the database per bucket: no Python work per event.
    redeemed_at = case((Event.type == "redeemed", Event.occurred_at), else_=Redemption.occurred_at)
    bucket = _bucket(session, redeemed_at, Coupon.issued_at).label("bucket")
    amount = func.coalesce(Event.amount, 0)
    discount = case(
        (Campaign.discount_kind == "percent", amount * Campaign.discount_value // 100),
        (Campaign.discount_kind == "amount", Campaign.discount_value),
        else_=0,
    )
    money = (
        select(*columns, Event.type, bucket, func.count(), func.sum(discount))
        .join(Coupon, Coupon.id == Event.coupon_id)
        .join(Campaign, Campaign.id == Coupon.campaign_id)
        .outerjoin(Redemption, and_(Redemption.id == Event.redemption_id, Event.type == "voided"))
        .where(*where, Event.type.in_(MONEY))
        # By the output column's name: the expression holds bound values, which PostgreSQL
        # would not recognise as the same expression in GROUP BY.
        .group_by(*columns, Event.type, literal_column("bucket"))
    )
    for row in await session.execute(money):
        values = dict(zip(dimensions, row[: len(dimensions)], strict=True))
        type_, bucket_id, count, given = row[len(dimensions) :]
        sign = 1 if type_ == "redeemed" else -1
        for address in _addresses(targets, values):
            tally = tally_of(address)
            tally.types[type_].discount += int(given or 0)
            if bucket_id is not None:
                tally.latency[int(bucket_id)] += sign * int(count)
    return tallies


# Figures per (campaign, or ALL_CAMPAIGNS when not kept apart; UTC hour; event type).
Hours = dict[tuple[int, datetime, str], TypeFigures]


def _hour_of(session: AsyncSession) -> ColumnElement[datetime]:
    """The UTC hour an event falls in, as an aware datetime on both stores."""
    if session.get_bind().dialect.name == "postgresql":
        hour = func.date_trunc("hour", Event.occurred_at.op("AT TIME ZONE")(literal_column("'UTC'")))
    else:
        hour = func.strftime("%Y-%m-%d %H:00:00.000000", Event.occurred_at)
    return type_coerce(hour, UTCDateTime)


async def fold_hours(
    session: AsyncSession, where: Sequence[ColumnElement[bool]], *, per_campaign: bool
) -> Hours:
    """Counts, quantities and amounts of the events matching ``where`` per UTC hour and type:
    what time series in any time zone are made of (days are whole hours in nearly every zone)."""
    hour = _hour_of(session)
    grouping = [Event.campaign_id, hour, Event.type] if per_campaign else [hour, Event.type]
    query = (
        select(*grouping, func.count(), func.sum(Event.quantity), func.sum(Event.amount))
        .where(*where, Event.type.in_(FUNNEL))
        .group_by(*grouping)
    )
    hours: Hours = {}
    for row in await session.execute(query):
        scope = row[0] if per_campaign else ALL_CAMPAIGNS
        if scope is None:
            continue
        bucket, type_, events, quantity, amount = row[-5:]
        figures = hours.setdefault((scope, bucket, type_), TypeFigures())
        figures.events += int(events)
        figures.quantity += int(quantity or 0)
        figures.amount += int(amount or 0)
    return hours


def merge_hours(into: Hours, more: Hours) -> Hours:
    for address, figures in more.items():
        into.setdefault(address, TypeFigures()).add(figures)
    return into
