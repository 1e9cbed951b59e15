"""Time-driven triggers: periodic queries for the customers whose moment has come.

- ``inactive_for``: the last activity (registration or redemption, ``customers.last_active_at``)
  is at least N days old.
- ``birthday``: today is the birthday in the customer's own time zone.
- ``before_expiry``: a coupon of the watched campaign expires unredeemed within N hours.

Each run reads at most ``pages_per_run`` pages of ``page_size`` candidates per campaign through an
index, and resumes from where the last run stopped (a position kept in the process: one that
restarts begins again from the first page, which costs a read and issues nothing twice). Each
page is issued in one short transaction; the coupons' unique index settles what several
processes find at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import Select, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock, time_zone
from tessera.core.db.base import UTCDateTime
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer
from tessera.triggers.issuing import issue_triggered, may_receive
from tessera.triggers.rules import (
    BEFORE_EXPIRY,
    BIRTHDAY,
    INACTIVE_FOR,
    TIMED_KINDS,
    birthday_month_days,
    is_birthday,
    issues_now,
)

Key = tuple[Any, ...]
_PROFILE = (Customer.birthday, Customer.timezone)
Candidates: TypeAlias = Select[*tuple[Any, ...]]


class TimedTriggers:
    """A periodic worker job; any number of processes may run it at once."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        clock: Clock,
        keys: CodeKeys,
        default_timezone: str,
        *,
        page_size: int = 1000,
        pages_per_run: int = 20,
    ) -> None:
        zone = time_zone(default_timezone)
        if zone is None:
            raise ValueError(f"unknown time zone {default_timezone!r}")
        self._sessions = sessions
        self._readers = readers
        self._clock = clock
        self._keys = keys
        self._default_zone = zone
        self._page_size = page_size
        self._pages_per_run = pages_per_run
        self._resume: dict[int, Key] = {}

    async def run(self) -> int:
        """Issue what is due for every running time-triggered campaign; how many coupons."""
        now = self._clock.now()
        async with self._readers() as session:
            campaigns = (
                await session.scalars(
                    select(Campaign)
                    .where(
                        Campaign.trigger_kind.in_(TIMED_KINDS),
                        Campaign.published_at.is_not(None),
                        Campaign.starts_at <= now,
                        Campaign.ends_at > now,
                    )
                    .order_by(Campaign.id)
                )
            ).all()
        issued = 0
        for campaign in campaigns:
            for _ in range(self._pages_per_run):
                page_issued, finished = await self._page(campaign, now)
                issued += page_issued
                if finished:
                    break
        return issued

    async def _page(self, campaign: Campaign, now: datetime) -> tuple[int, bool]:
        """One page of candidates: coupons issued, and whether the candidates ran out. A page
        whose candidates are all outside the segment (or not at their birthday yet) opens no
        write transaction."""
        after = self._resume.get(campaign.id)
        async with self._readers() as session:
            dialect = session.get_bind().dialect.name
            rows = (await session.execute(self._candidates(campaign, now, after, dialect))).all()
        full = len(rows) == self._page_size
        if full:
            self._resume[campaign.id] = tuple(rows[-1][-2:])
        else:
            self._resume.pop(campaign.id, None)
        customers = self._due(campaign, now, rows)
        if not customers:
            return 0, not full
        async with self._sessions.begin() as session:
            current = await session.get(Campaign, campaign.id)
            changed = current is None or current.trigger_kind != campaign.trigger_kind
            if current is None or changed or not issues_now(current, now):
                return 0, True  # changed meanwhile: the next run sees it as it is
            return await issue_triggered(session, self._keys, current, customers, now), not full

    def _candidates(self, campaign: Campaign, now: datetime, after: Key | None, dialect: str) -> Candidates:
        """Rows of (customer id, birthday, zone, *the page key*) of the customers who may
        receive the coupon (segment included), in the order of an index; the key is two
        columns."""
        if campaign.trigger_kind == INACTIVE_FOR:
            cutoff = now - timedelta(days=campaign.trigger_days or 0)
            statement: Candidates = select(
                Customer.id, *_PROFILE, Customer.last_active_at, Customer.id
            ).where(Customer.last_active_at <= cutoff, *may_receive(campaign, dialect))
            if after is not None:
                statement = statement.where(
                    tuple_(Customer.last_active_at, Customer.id)
                    > tuple_(literal(after[0], UTCDateTime()), literal(after[1]))
                )
            return statement.order_by(Customer.last_active_at, Customer.id).limit(self._page_size)
        if campaign.trigger_kind == BIRTHDAY:
            statement = select(Customer.id, *_PROFILE, Customer.id, Customer.id).where(
                Customer.birth_month_day.in_(birthday_month_days(now)), *may_receive(campaign, dialect)
            )
            if after is not None:
                statement = statement.where(Customer.id > after[0])
            return statement.order_by(Customer.id).limit(self._page_size)
        if campaign.trigger_kind == BEFORE_EXPIRY:
            horizon = now + timedelta(hours=campaign.trigger_hours or 0)
            statement = (
                select(Coupon.customer_id, *_PROFILE, Coupon.expires_at, Coupon.id)
                .join(Customer, Customer.id == Coupon.customer_id)
                .where(
                    # Found through the partial index on unrecorded expiries, by time: ``+ 0``
                    # keeps the planners off the campaign index, which would read every coupon
                    # of the watched campaign to sort them.
                    Coupon.campaign_id + 0 == campaign.trigger_campaign_id,
                    Coupon.expiry_recorded_at.is_(None),
                    Coupon.redeemed_at.is_(None),
                    Coupon.revoked_at.is_(None),
                    Coupon.expires_at > now,
                    Coupon.expires_at <= horizon,
                    *may_receive(campaign, dialect),
                )
            )
            if after is not None:
                statement = statement.where(
                    tuple_(Coupon.expires_at, Coupon.id)
                    > tuple_(literal(after[0], UTCDateTime()), literal(after[1]))
                )
            return statement.order_by(Coupon.expires_at, Coupon.id).limit(self._page_size)
        raise ValueError(f"not a timed trigger: {campaign.trigger_kind!r}")

    def _due(self, campaign: Campaign, now: datetime, rows: Sequence[Any]) -> list[int]:
        """The candidates (for birthdays, those at theirs in their own zone). ``issue_triggered``
        checks consent and segment again in the issuing transaction."""
        due = []
        for customer_id, birthday, zone_name, *_ in rows:
            if campaign.trigger_kind == BIRTHDAY:
                zone = (time_zone(zone_name) if zone_name else None) or self._default_zone
                if birthday is None or not is_birthday(birthday, now.astimezone(zone).date()):
                    continue
            due.append(customer_id)
        return due
