from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec
from sqlalchemy import text

from tessera.analytics.rollup import events_behind
from tessera.http.deps import Ctx
from tessera.outbox.service import due_backlog


class OutboxLag(msgspec.Struct):
    due: int  # messages due and not delivered yet
    oldest_due_seconds: float | None  # how long the oldest of them has been due


class Health(msgspec.Struct):
    status: str
    database: str
    outbox: OutboxLag | None = None
    analytics_events_behind: int | None = None  # events the rollups have not reached yet


class HealthController(Controller):
    path = "/health"
    tags = ["operations"]

    @get(
        "/",
        summary="Database, outbox and analytics lag (public)",
        cache=False,
        responses={503: ResponseSpec(Health, description="The database does not answer")},
    )
    async def health(self, ctx: Ctx) -> Response[Health]:
        """200 while the database answers, 503 when it does not: what a load balancer needs.
        The lag figures tell an operator whether the background work keeps up."""
        now = ctx.clock.now()
        try:
            async with ctx.readers() as session:
                await session.execute(text("SELECT 1"))
                due, oldest = await due_backlog(session, now)
                behind = await events_behind(session)
        except Exception:  # any database failure means "not healthy", never a 500
            return Response(Health("degraded", "unavailable"), status_code=503)
        waited = None if oldest is None else round(max((now - oldest).total_seconds(), 0.0), 3)
        return Response(Health("ok", "ok", OutboxLag(due, waited), behind))
