"""Health, API docs that work offline, and migrations that match the models on both stores."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from tessera.db.engine import create_engine
from tessera.db.models import Base
from tests.support import Api


async def test_health_and_openapi(api: Api) -> None:
    health = await api.client.get("/health")
    assert health.json() == {"status": "ok", "database": "ok"}
    schema = await api.client.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/redemptions", "/api/campaigns/{campaign_id}/publish", "/api/me/coupons"):
        assert path in paths


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
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrations_match_models(api: Api) -> None:
    engine = create_engine(api.settings.database)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_each_app_runs_from_its_folder(api: Api) -> None:
    for folder in ("/staff", "/console"):
        bare = await api.client.get(f"{folder}?lang=it", follow_redirects=False)
        assert bare.status_code == 308
        assert bare.headers["location"] == f"{folder}/?lang=it"
        page = await api.client.get(f"{folder}/")
        assert page.status_code == 200
        assert "Content-Security-Policy" in page.headers
    assert (await api.client.get("/")).status_code == 200
