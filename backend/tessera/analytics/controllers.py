from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from tessera.analytics.queries import Window, channel_report
from tessera.analytics.schemas import ChannelReport, GroupBy
from tessera.auth.guards import allow
from tessera.deps import Ctx
from tessera.errors import InvalidInput


class AnalyticsController(Controller):
    path = "/api/analytics"
    tags = ["analytics"]
    guards = allow("marketer")

    @get("/channels", summary="Funnel per distribution channel or presented medium (marketer)")
    async def channels(
        self,
        ctx: Ctx,
        by: Annotated[
            GroupBy, QueryParameter(description="group by distribution channel or presented medium")
        ] = "channel",
        campaign_id: Annotated[int | None, QueryParameter(ge=1)] = None,
        since: Annotated[datetime | None, QueryParameter(description="events at or after (RFC 3339)")] = None,
        until: Annotated[datetime | None, QueryParameter(description="events before (RFC 3339)")] = None,
    ) -> ChannelReport:
        """Issued, notified, wallet saves, validations, redemptions (net of voids), redemption rate,
        median and p90 time from issue to redemption, revenue and discount given."""
        for name, moment in (("since", since), ("until", until)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput("Give a time zone (e.g. Z or +01:00)", field=name)
        if since is not None and until is not None and since >= until:
            raise InvalidInput("since must be before until", field="since")
        async with ctx.readers() as session:
            return await channel_report(session, Window(campaign_id, since, until), by)
