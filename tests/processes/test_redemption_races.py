"""Redemption races through real server processes: every code of a race sent many times at once
and spread over all processes; exactly-once, the campaign cap and the per-customer limit must
hold to the unit, in the answers and in the database.

At small size on each store (SQLite: one process, its store's limit; PostgreSQL: two), and at
full size on four processes over one PostgreSQL database. The suite is shown able to fail: the
same races against the same app with a naive read-check-then-write ledger swapped in
(``tests/oracles/naive_app.py``) must find violations.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tessera.core.settings import DatabaseSettings, Settings
from tessera.wallet.apple.dev_certificates import DevelopmentCertificates
from tests.support.fixed_values import TEST_SECRET
from tests.support.own_loop import in_own_loop
from tests.support.postgres import empty_postgres
from tests.support.races import (
    Race,
    RaceResult,
    marketer_key,
    race_campaign_cap,
    race_each_code_once,
    race_per_customer_limit,
)
from tests.support.servers import running_servers, server_env

pytestmark = pytest.mark.slow

PROCESSES = 4
NAIVE_APP = "tests.oracles.naive_app:naive_app_from_env"


def processes_for(settings: Settings) -> int:
    """SQLite is the one-process store (docs/operations.md); PostgreSQL the one for several."""
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


# At full size: four processes on one PostgreSQL database.


@pytest.fixture(scope="module")
def race_env(
    postgres_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    pass_certificates: DevelopmentCertificates,
    google_service_account: Path,
) -> dict[str, str]:
    """Server settings: the session's PostgreSQL database (emptied once; each race has its own
    campaign), the session's wallet credentials, and small pools (four processes at a time on
    a server other test runs may share)."""
    in_own_loop(empty_postgres(postgres_url))
    return {
        **server_env(postgres_url, tmp_path_factory.mktemp("race"), TEST_SECRET),
        "TESSERA_APPLE_CERT_PATH": str(pass_certificates.cert_path),
        "TESSERA_APPLE_KEY_PATH": str(pass_certificates.key_path),
        "TESSERA_APPLE_WWDR_PATH": str(pass_certificates.wwdr_path),
        "TESSERA_GOOGLE_SERVICE_ACCOUNT_PATH": str(google_service_account),
        "TESSERA_DATABASE_POOL_SIZE": "4",
    }


async def _race(urls: list[str], env: dict[str, str]) -> Race:
    database = DatabaseSettings(url=env["TESSERA_DATABASE_URL"])
    return Race(urls, database, {"Authorization": f"Bearer {await marketer_key(database)}"})


@pytest.fixture(scope="class")
def urls(race_env: dict[str, str]) -> Iterator[list[str]]:
    """Four processes of the product, shared by the races of ``TestProduct`` and stopped after
    them (before the naive app's start)."""
    with running_servers(PROCESSES, race_env) as urls:
        yield urls


@pytest.mark.postgres
class TestProduct:
    async def test_500_codes_each_sent_32_times_at_once_redeem_exactly_once(
        self, urls: list[str], race_env: dict[str, str]
    ) -> None:
        result = await race_each_code_once(await _race(urls, race_env), codes=500, per_code=32)
        assert result.violations() == []

    async def test_the_campaign_cap_stops_exactly_at_its_value(
        self, urls: list[str], race_env: dict[str, str]
    ) -> None:
        result = await race_campaign_cap(await _race(urls, race_env), codes=500, per_code=32, cap=250)
        assert result.violations() == []

    async def test_the_per_customer_limit_holds_for_every_customer(
        self, urls: list[str], race_env: dict[str, str]
    ) -> None:
        result = await race_per_customer_limit(
            await _race(urls, race_env), customers=20, coupons_each=6, per_coupon=4, limit=2
        )
        assert result.violations() == []


def _caught_redeeming_too_often(result: RaceResult) -> None:
    """The race must report the naive ledger, and for the right reason: more successes than
    exactly-once (or the limit) allows."""
    assert result.violations(), f"{result.name}: the naive ledger went unnoticed"
    assert result.observed["answers"].get(201, 0) > result.allowed["answers"][201], result.violations()
    assert result.observed["redemption rows"] > result.allowed["redemption rows"], result.violations()


@pytest.mark.postgres
async def test_the_same_races_catch_a_read_check_then_write_ledger(race_env: dict[str, str]) -> None:
    with running_servers(PROCESSES, race_env, NAIVE_APP) as urls:
        race = await _race(urls, race_env)
        _caught_redeeming_too_often(await race_each_code_once(race, codes=100, per_code=32))
        _caught_redeeming_too_often(await race_campaign_cap(race, codes=100, per_code=8, cap=40))
        _caught_redeeming_too_often(
            await race_per_customer_limit(race, customers=10, coupons_each=6, per_coupon=4, limit=2)
        )
