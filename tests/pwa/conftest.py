"""Fixtures of the browser tests: a live server (real clock, embedded worker) on SQLite — the
pages are under test here; the API they call runs on both stores in the rest of the suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tessera.core.clock import SystemClock
from tessera.core.settings import Settings, WorkerSettings
from tests.support.api import Api
from tests.support.browser import live_server


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "tessera.db"
    path.write_bytes(sqlite_template.read_bytes())
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, worker=WorkerSettings(embedded=True, poll_seconds=0.05, jobs_every_seconds=0.2))


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with live_server(settings) as url:
        yield url


@pytest.fixture
async def live_api(server: str, settings: Settings) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        yield Api(client, SystemClock(), settings)
