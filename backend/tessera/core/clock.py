"""The one clock every time-dependent rule asks, so tests move time instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec


def representable_in_utc(moment: datetime) -> bool:
    """Whether an aware ``moment`` is still a datetime once in UTC, where every time is stored and
    compared: 0001-01-01T00:00+05:00 and 9999-12-31T23:00-05:00 are not."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


def time_zone(name: str) -> ZoneInfo | None:
    """The IANA time zone called ``name``, or None when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until told to move; for tests and demos."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """A time exactly as the API writes every other time (msgspec: UTC, ``Z``, fraction only
    when non-zero), so a ledger's answer and a coupon listing agree to the character."""
    return msgspec.json.encode(moment.astimezone(UTC)).decode()[1:-1]
