"""The real app with ``NaiveLedger`` in place of its redemption ledger, for server processes:
``uvicorn --factory tests.oracles.naive_app:naive_app_from_env`` (PostgreSQL only).

Everything else — routes, authentication, parsing, the worker — is the product's. The ledger
is swapped where every request finds it: on the context the app builds at start-up, and in the
services given it as a collaborator, which are built again around the naive one.
"""

from __future__ import annotations

from dataclasses import replace

from litestar import Litestar

from tessera.app import create_app
from tessera.assembly.devkit import with_development_credentials
from tessera.assembly.services import Services, build_services
from tessera.core.settings import Settings
from tessera.http.context import AppContext
from tessera.redemptions.ledger_postgres import create_pool
from tests.oracles.naive_ledger import NaiveLedger


def naive_app_from_env() -> Litestar:
    settings = with_development_credentials(Settings.from_env())
    if settings.database.is_sqlite:
        raise RuntimeError("the naive ledger is written for PostgreSQL")
    app = create_app(settings)

    async def swap_in_the_naive_ledger(app: Litestar) -> None:
        ctx: AppContext = app.state.ctx
        app.state.naive_pool = await create_pool(settings.database.asyncpg_dsn, settings.database.pool_size)
        ctx.ledger = NaiveLedger(app.state.naive_pool)
        rebuilt = build_services(ctx)
        services: Services = app.state.services
        app.state.services = replace(
            services,
            redemptions=rebuilt.redemptions,
            members=rebuilt.members,
            contest_entries=rebuilt.contest_entries,
            sign_in=rebuilt.sign_in,
        )

    async def close_its_pool(app: Litestar) -> None:
        await app.state.naive_pool.close()

    app.on_startup.append(swap_in_the_naive_ledger)
    app.on_shutdown.append(close_its_pool)
    return app
