"""Exactly once under load, through real HTTP servers (two processes on one PostgreSQL database,
one on SQLite). ``test_race.py`` runs the same races at full size on four processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tessera.core.settings import Settings
from tests.conftest import TEST_SECRET
from tests.races import Race, marketer_key, race_campaign_cap, race_each_code_once
from tests.servers import running_servers, server_env

pytestmark = pytest.mark.slow


def processes_for(settings: Settings) -> int:
    """SQLite is the one-process store (README); PostgreSQL is the one for several processes."""
    return 1 if settings.database.is_sqlite else 2


async def test_each_code_redeems_exactly_once_under_16_concurrent_requests(
    settings: Settings, tmp_path: Path
) -> None:
    env = server_env(settings.database.url, tmp_path, TEST_SECRET)
    marketer = {"Authorization": f"Bearer {await marketer_key(settings.database)}"}
    with running_servers(processes_for(settings), env) as urls:
        result = await race_each_code_once(Race(urls, settings.database, marketer), codes=200, per_code=16)
    assert result.violations() == []


async def test_campaign_cap_holds_under_500_concurrent_redeems(settings: Settings, tmp_path: Path) -> None:
    env = server_env(settings.database.url, tmp_path, TEST_SECRET)
    marketer = {"Authorization": f"Bearer {await marketer_key(settings.database)}"}
    with running_servers(processes_for(settings), env) as urls:
        result = await race_campaign_cap(
            Race(urls, settings.database, marketer), codes=500, per_code=1, cap=50
        )
    assert result.violations() == []
