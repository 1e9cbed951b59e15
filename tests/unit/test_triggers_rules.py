"""The pure rules of the time triggers: whose birthday it is, which birthdays to look for, and a
default time zone that must exist."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.core.errors import ConfigurationError
from tessera.core.settings import Settings
from tessera.triggers.rules import birthday_month_days, is_birthday, month_day


def test_a_leap_day_birthday_falls_on_28_february_in_other_years() -> None:
    leap_day = date(1992, 2, 29)
    assert is_birthday(leap_day, date(2028, 2, 29))
    assert not is_birthday(leap_day, date(2028, 2, 28))  # 2028 has its own 29 February
    assert is_birthday(leap_day, date(2027, 2, 28))
    assert not is_birthday(leap_day, date(2027, 3, 1))
    assert is_birthday(date(1990, 2, 28), date(2027, 2, 28))
    assert not is_birthday(date(1990, 6, 15), date(2027, 6, 16))


# hypothesis takes naive bounds and makes the values aware.
@given(st.datetimes(datetime(2001, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC)))  # noqa: DTZ001
def test_every_local_birthday_of_the_moment_is_looked_for(now: datetime) -> None:
    wanted = birthday_month_days(now)
    # Local dates on Earth run from UTC-12 to UTC+14.
    for offset_hours in (-12, -6, 0, 6, 14):
        local = (now + timedelta(hours=offset_hours)).date()
        assert month_day(local) in wanted
        if (local.month, local.day) == (2, 28) and is_birthday(date(1992, 2, 29), local):
            assert 229 in wanted


def test_the_default_time_zone_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="TESSERA_DEFAULT_TIMEZONE"):
        Settings(environment="test", default_timezone="Mars/Olympus").checked()
    assert (
        Settings.from_env(
            {"TESSERA_DEFAULT_TIMEZONE": "Europe/Rome", "TESSERA_DATA_DIR": str(tmp_path)}
        ).default_timezone
        == "Europe/Rome"
    )
