"""Fixtures: settings → app → client, over SQLite always and PostgreSQL when reachable.

With ``CI=true`` a missing PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tessera.app import create_app
from tessera.assembly.devkit import with_development_credentials
from tessera.assembly.migrate import upgrade
from tessera.core.clock import FrozenClock
from tessera.core.settings import (
    DEVELOPMENT_PASS_TYPE,
    DEVELOPMENT_TEAM,
    AppleWalletSettings,
    DatabaseSettings,
    GoogleWalletSettings,
    SecuritySettings,
    Settings,
    ThrottleSettings,
    WorkerSettings,
)
from tessera.models import Base
from tessera.wallet.apple.dev_certificates import DevelopmentCertificates, make_development_certificates
from tessera.wallet.google.dev_keys import make_development_service_account
from tests.support.api import Api

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_HOST = os.environ.get("TESSERA_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TESSERA_TEST_PG_PORT", "5432"))
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
TEST_SECRET = "tessera-test-secret-0123456789abcdefghijklmnop"
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DATABASES = ["sqlite", "postgres"]


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    if postgres_reachable():
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI but {PG_HOST}:{PG_PORT} is not reachable")
    pytest.skip("PostgreSQL is not reachable")


def in_own_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to the end from sync code, even while a test's loop is running."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "tessera.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session, migrated once and emptied before each test."""
    require_postgres()
    name = f"tessera_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(PG_ADMIN)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    in_own_loop(admin(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    upgrade(url)
    yield url
    in_own_loop(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def empty_postgres(url: str) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    connection = await asyncpg.connect("postgresql://" + url.split("://", 1)[1])
    try:
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "tessera.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    await empty_postgres(url)
    return url


@pytest.fixture(scope="session")
def pass_certificates(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentCertificates:
    """Throwaway pass-signing certificates, made once (RSA key generation is slow)."""
    return make_development_certificates(
        tmp_path_factory.mktemp("apple"), DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM
    )


@pytest.fixture(scope="session")
def google_service_account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_development_service_account(tmp_path_factory.mktemp("google") / "service-account.json")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
    pass_certificates: DevelopmentCertificates,
    google_service_account: Path,
) -> Settings:
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        log_level="WARNING",
        database=DatabaseSettings(url=database_url, pool_size=5),
        security=SecuritySettings(code_secret=TEST_SECRET),
        throttle=ThrottleSettings(
            failed_scans_per_window=10,
            failed_scans_per_store=15,
            failed_scans_in_all=40,
            registrations_per_address=1_000,
            window_seconds=300,
        ),
        apple=AppleWalletSettings(
            cert_path=pass_certificates.cert_path,
            key_path=pass_certificates.key_path,
            wwdr_path=pass_certificates.wwdr_path,
        ),
        google=GoogleWalletSettings(service_account_path=google_service_account),
        # Tests that need deliveries start the worker themselves (see test_wallet_*.py).
        worker=WorkerSettings(embedded=False),
    ).checked()
    return with_development_credentials(settings)  # the VAPID key, kept in the data directory


@pytest.fixture
async def client(settings: Settings, clock: FrozenClock) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(settings, clock)) as test_client:
        yield test_client


@pytest.fixture
def api(client: AsyncTestClient, clock: FrozenClock, settings: Settings) -> Api:  # type: ignore[type-arg]
    return Api(client, clock, settings)
