"""Fixtures: settings → app → client, over SQLite always and PostgreSQL when reachable.

With ``CI=true`` a missing PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

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
from tessera.wallet.apple.dev_certificates import DevelopmentCertificates, make_development_certificates
from tessera.wallet.google.dev_keys import make_development_service_account
from tests.fakes.messages import FakeMessageWebhook, running_fake_webhook
from tests.fakes.smtp import FakeSmtpServer, running_smtp_server
from tests.support.api import Api
from tests.support.apps import BuiltApps
from tests.support.fixed_values import START, TEST_SECRET
from tests.support.own_loop import in_own_loop
from tests.support.postgres import PG_HOST, PG_PORT, admin_sql, empty_postgres, require_postgres

DATABASES = ["sqlite", "postgres"]


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
    in_own_loop(admin_sql(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    upgrade(url)
    yield url
    in_own_loop(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this session's SQLite tests keep their database, made afresh for each of them."""
    return tmp_path_factory.mktemp("sqlite") / "tessera.db"


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, sqlite_template: Path, sqlite_path: Path) -> str:
    """The store of one test, empty and migrated: SQLite (the migrated template copied over the
    session's file) or the session's PostgreSQL database, emptied. The URL stays the same from
    test to test, so a test can start an app already built (``tests/support/apps.py``)."""
    if request.param == "sqlite":
        for leftover in ("-wal", "-shm", "-journal"):
            sqlite_path.with_name(sqlite_path.name + leftover).unlink(missing_ok=True)
        fresh = sqlite_path.with_name("fresh.db")
        shutil.copyfile(sqlite_template, fresh)
        fresh.replace(sqlite_path)
        return f"sqlite+aiosqlite:///{sqlite_path}"
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


@pytest.fixture(scope="session")
def session_clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def clock(session_clock: FrozenClock) -> FrozenClock:
    """The frozen clock, back at ``START``: one object for the session, so that the apps built
    with it serve every test."""
    session_clock.set(START)
    return session_clock


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The apps' data directory: it holds only the development credentials (the VAPID key), made
    once for the session."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def settings(
    data_dir: Path,
    database_url: str,
    pass_certificates: DevelopmentCertificates,
    google_service_account: Path,
) -> Settings:
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        log_level="WARNING",
        database=DatabaseSettings(url=database_url, pool_size=5),
        # Argon2id as in production, at a small cost: a staff login here is about who may sign
        # in, and each hash at the production cost (19 MiB, two passes) takes tens of ms.
        security=SecuritySettings(code_secret=TEST_SECRET, argon2_memory_kib=1024, argon2_rounds=1),
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


@pytest.fixture(scope="session")
def built_apps() -> BuiltApps:
    return BuiltApps()


@pytest.fixture
async def client(
    settings: Settings, clock: FrozenClock, built_apps: BuiltApps
) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """A test client of an app for ``settings``, started (and stopped) for this test alone."""
    with built_apps.app(settings, clock) as app:
        async with AsyncTestClient(app=app) as test_client:
            yield test_client


@pytest.fixture
def api(client: AsyncTestClient, clock: FrozenClock, settings: Settings) -> Api:  # type: ignore[type-arg]
    return Api(client, clock, settings)


@pytest.fixture
def webhook() -> Iterator[FakeMessageWebhook]:
    """The message webhook's receiver (SMS and e-mail gateways), checking every signature."""
    with running_fake_webhook() as fake:
        yield fake


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    """A real SMTP server on 127.0.0.1 that records what it receives."""
    with running_smtp_server() as server:
        yield server
