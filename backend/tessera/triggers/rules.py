"""What a trigger may be, and when one fires: checks of a campaign's trigger, and the pure rules
of the birthday trigger."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.core.errors import InvalidValue, Unprocessable
from tessera.models.campaigns import Campaign
from tessera.models.codes import CodeBatch
from tessera.triggers.schemas import Trigger

ON_REGISTRATION: Final = "on_registration"
ON_REDEMPTION: Final = "on_redemption"
INACTIVE_FOR: Final = "inactive_for"
BIRTHDAY: Final = "birthday"
BEFORE_EXPIRY: Final = "before_expiry"
# Fired by an event in the log (followed by ``EventTriggers``) or found by a periodic query
# (``TimedTriggers``).
EVENT_KINDS: Final = (ON_REGISTRATION, ON_REDEMPTION)
TIMED_KINDS: Final = (INACTIVE_FOR, BIRTHDAY, BEFORE_EXPIRY)
_WATCHING = (ON_REDEMPTION, BEFORE_EXPIRY)  # kinds that watch another campaign's coupons
_PARAMETERS = {"days": (INACTIVE_FOR,), "hours": (BEFORE_EXPIRY,)}


class TriggerCampaignNotFound(Unprocessable):
    code = "trigger_campaign_not_found"
    title = "The trigger names a campaign that does not exist"


class TriggerCycle(Unprocessable):
    code = "trigger_cycle"
    title = "The trigger would make campaigns trigger each other in a circle"


class TriggerNotAllowed(Unprocessable):
    code = "trigger_not_allowed"
    title = "This campaign cannot have a trigger"


class CampaignTriggered(Unprocessable):
    code = "campaign_triggered"
    title = "A triggered campaign issues personal coupons only"


async def check_trigger(session: AsyncSession, campaign: Campaign | None, trigger: Trigger) -> None:
    """Refuse a trigger that cannot work: missing or stray parameters, a watched campaign that
    does not exist or that (through its own trigger) comes back to ``campaign``, and a trigger on
    a campaign that has code lists (its coupons belong to nobody)."""
    watching = trigger.kind in _WATCHING
    if watching and trigger.campaign_id is None:
        raise InvalidValue(
            f"A {trigger.kind} trigger names the campaign it watches", field="trigger.campaign_id"
        )
    if not watching and trigger.campaign_id is not None:
        raise InvalidValue(f"A {trigger.kind} trigger watches no campaign", field="trigger.campaign_id")
    for name, kinds in _PARAMETERS.items():
        given = getattr(trigger, name) is not None
        if trigger.kind in kinds and not given:
            raise InvalidValue(f"A {trigger.kind} trigger needs {name}", field=f"trigger.{name}")
        if trigger.kind not in kinds and given:
            raise InvalidValue(f"A {trigger.kind} trigger takes no {name}", field=f"trigger.{name}")
    if trigger.campaign_id is not None:
        await _check_chain(session, campaign.id if campaign else None, trigger.campaign_id)
    if campaign is not None and await session.scalar(
        select(exists().where(CodeBatch.campaign_id == campaign.id))
    ):
        raise TriggerNotAllowed(
            "This campaign has code lists; a triggered campaign issues personal coupons only",
            field="trigger",
        )


async def _check_chain(session: AsyncSession, campaign_id: int | None, watched_id: int) -> None:
    """The watched campaign exists, and following the campaigns each one watches never leads
    back to ``campaign_id``."""
    current: int | None = watched_id
    seen: set[int] = set()
    while current is not None and current not in seen:
        if current == campaign_id:
            raise TriggerCycle(
                "The watched campaign is this campaign or is triggered by it",
                field="trigger.campaign_id",
                campaign_id=watched_id,
            )
        seen.add(current)
        found = await session.execute(select(Campaign.trigger_campaign_id).where(Campaign.id == current))
        row = found.first()
        if row is None:
            if current == watched_id:
                raise TriggerCampaignNotFound(
                    f"Campaign {watched_id} does not exist",
                    field="trigger.campaign_id",
                    campaign_id=watched_id,
                )
            return
        current = row[0]


def apply_trigger(campaign: Campaign, trigger: Trigger | None) -> None:
    campaign.trigger_kind = trigger.kind if trigger else None
    campaign.trigger_campaign_id = trigger.campaign_id if trigger else None
    campaign.trigger_days = trigger.days if trigger else None
    campaign.trigger_hours = trigger.hours if trigger else None
    campaign.trigger_channel = trigger.channel if trigger and trigger.channel != "push" else None


def trigger_of(campaign: Campaign) -> Trigger | None:
    if campaign.trigger_kind is None:
        return None
    return Trigger(
        kind=campaign.trigger_kind,  # type: ignore[arg-type]
        campaign_id=campaign.trigger_campaign_id,
        days=campaign.trigger_days,
        hours=campaign.trigger_hours,
        channel=campaign.trigger_channel or "push",  # type: ignore[arg-type]
    )


def fires_for_event(campaign: Campaign, occurred_at: datetime) -> bool:
    """An event triggers a campaign that was switched on (published) and running when it
    happened."""
    published = campaign.published_at
    return published is not None and max(campaign.starts_at, published) <= occurred_at < campaign.ends_at


def issues_now(campaign: Campaign, now: datetime) -> bool:
    """A triggered campaign issues only while published and inside its window."""
    return campaign.published_at is not None and campaign.starts_at <= now < campaign.ends_at


def month_day(day: date) -> int:
    return day.month * 100 + day.day


def is_birthday(birthday: date, local_today: date) -> bool:
    """Whether ``local_today`` is the birthday; 29 February falls on 28 February in other years."""
    if (birthday.month, birthday.day) == (local_today.month, local_today.day):
        return True
    if (birthday.month, birthday.day) != (2, 29) or calendar.isleap(local_today.year):
        return False
    return (local_today.month, local_today.day) == (2, 28)


def birthday_month_days(now: datetime) -> list[int]:
    """The ``birth_month_day`` values whose day is today somewhere on Earth (local dates run from
    UTC-12 to UTC+14, so within a day either side of the UTC date)."""
    today = now.date()
    days = [today + timedelta(days=offset) for offset in (-1, 0, 1)]
    values = {month_day(day) for day in days}
    if any((day.month, day.day) == (2, 28) and not calendar.isleap(day.year) for day in days):
        values.add(229)
    return sorted(values)
