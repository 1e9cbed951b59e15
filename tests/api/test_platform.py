"""Health, API docs that work offline, and migrations that match the models on both stores."""

from __future__ import annotations

import asyncio
import gc
import re
import sys
import warnings
from datetime import timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from tessera.core.db.engine import create_engine, session_factory
from tessera.models import Base
from tessera.models.outbox import OutboxMessage
from tests.support.api import Api
from tests.support.asgi import call_app
from tests.support.stores import store_independent


async def test_health_and_openapi(api: Api) -> None:
    health = await api.client.get("/health")
    assert health.json() == {
        "status": "ok",
        "database": "ok",
        "outbox": {"due": 0, "oldest_due_seconds": None},
        "analytics_events_behind": 0,
    }
    schema = await api.client.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/redemptions", "/api/campaigns/{campaign_id}/publish", "/api/me/coupons"):
        assert path in paths


@store_independent
async def test_docs_page_loads_nothing_from_other_origins(api: Api) -> None:
    page = await api.client.get("/schema/swagger")
    assert page.status_code == 200
    references = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert references, "the docs page should reference its scripts"
    assert all(ref.startswith("/") for ref in references), references
    for ref in references:
        asset = await api.client.get(ref)
        assert asset.status_code == 200, ref


def _diff(connection: Connection) -> list[object]:
    with warnings.catch_warnings():
        # SQLAlchemy cannot reflect SQLite's expression indexes (PostgreSQL compares this one).
        for skipped in (
            "Skipped unsupported reflection of expression-based index ix_events_sent_message",
            "autogenerate skipping metadata-specified expression-based index 'ix_events_sent_message'",
        ):
            warnings.filterwarnings("ignore", skipped)
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrations_match_models(api: Api) -> None:
    engine = create_engine(api.settings.database)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


@store_independent
async def test_each_app_runs_from_its_folder(api: Api) -> None:
    for folder in ("/staff", "/console"):
        bare = await api.client.get(f"{folder}?lang=it", follow_redirects=False)
        assert bare.status_code == 308
        assert bare.headers["location"] == f"{folder}/?lang=it"
        page = await api.client.get(f"{folder}/")
        assert page.status_code == 200
        assert "Content-Security-Policy" in page.headers
    assert (await api.client.get("/")).status_code == 200


async def test_health_reports_how_far_background_work_is_behind(api: Api) -> None:
    now = api.clock.now()
    engine = create_engine(api.settings.database)
    try:
        async with session_factory(engine).begin() as session:
            for waited in (90, 30):
                due_at = now - timedelta(seconds=waited)
                session.add(
                    OutboxMessage(topic="apple_push", target="t", created_at=due_at, available_at=due_at)
                )
            later = now + timedelta(minutes=5)  # a retry not due yet
            session.add(OutboxMessage(topic="apple_push", target="t", created_at=now, available_at=later))
    finally:
        await engine.dispose()
    await api.customer()
    await api.publish((await api.campaign())["id"])  # an issued event the rollups have not reached
    health = (await api.client.get("/health")).json()
    assert health["outbox"] == {"due": 2, "oldest_due_seconds": 90.0}
    assert health["analytics_events_behind"] >= 1


@store_independent
async def test_a_client_gone_mid_download_leaves_no_file_open(api: Api) -> None:
    """The scanner's decoder is the largest file we serve; a browser that navigates away while
    fetching it must not leave the file open on the server."""
    unraisable: list[Any] = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        sent = await call_app(api.client.app, "GET", "/staff/vendor/zxing_reader.wasm", leave_after_bodies=1)  # type: ignore[attr-defined]
        await asyncio.sleep(0.05)  # what the loop would do next: close what was let go
        gc.collect()
    finally:
        sys.unraisablehook = previous_hook
    assert sent[0]["status"] == 200
    assert [hook.exc_value for hook in unraisable] == []
