from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from sqlalchemy import text

from tessera.deps import Ctx


class Health(msgspec.Struct):
    status: str
    database: str


class HealthController(Controller):
    path = "/health"
    tags = ["operations"]

    @get("/", summary="Liveness and database check (public)", cache=False)
    async def health(self, ctx: Ctx) -> Response[Health]:
        try:
            async with ctx.readers() as session:
                await session.execute(text("SELECT 1"))
        except Exception:  # any database failure means "not healthy", never a 500
            return Response(Health("degraded", "unavailable"), status_code=503)
        return Response(Health("ok", "ok"))
