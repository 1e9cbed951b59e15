from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from litestar import Controller, get
from litestar.di import Dependency, Provide
from litestar.params import QueryParameter
from litestar.response import Stream
from sqlalchemy import select

from tessera.analytics.queries import Window, channel_report, customer_profile, daily, funnel, redemption_rows
from tessera.analytics.schemas import (
    Breakdown,
    ChannelReport,
    ChannelRow,
    CustomerProfile,
    DailySeries,
    GroupBy,
    NamedRow,
)
from tessera.core.clock import representable_in_utc
from tessera.core.errors import InvalidInput, InvalidValue
from tessera.core.schemas import MAX_INT
from tessera.http.deps import Ctx
from tessera.http.guards import allow
from tessera.http.helpers import PathId, csv_download
from tessera.models.campaigns import Campaign
from tessera.models.stores import Store

EventWindow = Annotated[Window, Dependency(kind="named")]
CAMPAIGN = QueryParameter(ge=1, le=MAX_INT, description="only this campaign")
SINCE = QueryParameter(description="events at or after this time (RFC 3339 with a zone)")
UNTIL = QueryParameter(description="events before this time (RFC 3339 with a zone)")
BY = QueryParameter(description="group by distribution channel or presented medium")
ROW_FIELDS = [field for field in ChannelRow.__struct_fields__ if field != "key"]
REDEMPTION_COLUMNS = [
    "occurred_at",
    "event",
    "campaign_id",
    "campaign",
    "coupon_id",
    "channel",
    "medium",
    "store_id",
    "store",
    "staff_id",
    "order_total",
]


def provide_window(
    campaign_id: Annotated[int | None, CAMPAIGN] = None,
    since: Annotated[datetime | None, SINCE] = None,
    until: Annotated[datetime | None, UNTIL] = None,
) -> Window:
    """The campaign and time window of every analytics query, from its query parameters."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput("Give a time zone (e.g. Z or +01:00)", field=name, source="query")
        if moment is not None and not representable_in_utc(moment):
            raise InvalidValue("The time is out of range in UTC", field=name, source="query")
    if since is not None and until is not None and since >= until:
        raise InvalidValue("since must be before until", field="since", source="query")
    return Window(campaign_id, since, until)


def _named(rows: Sequence[ChannelRow], names: dict[int, str]) -> list[NamedRow]:
    return [NamedRow(**msgspec.structs.asdict(row), name=names.get(int(row.key), "")) for row in rows]


async def _rows_of(rows: Sequence[ChannelRow]) -> AsyncGenerator[list[Any], None]:
    for row in rows:
        yield [row.key, *(getattr(row, field) for field in ROW_FIELDS)]


class AnalyticsController(Controller):
    path = "/api/analytics"
    tags = ["analytics"]
    guards = allow("marketer")
    dependencies = {"window": Provide(provide_window, sync_to_thread=False)}

    @get("/channels", summary="Funnel per distribution channel or presented medium (marketer)")
    async def channels(
        self,
        ctx: Ctx,
        window: EventWindow,
        by: Annotated[GroupBy, BY] = "channel",
    ) -> ChannelReport:
        """Issued, notified, wallet saves, validations, redemptions (net of voids), redemption rate,
        median and p90 time from issue to redemption, revenue and discount given."""
        async with ctx.readers() as session:
            return await channel_report(session, window, by, ctx.settings.currency)

    @get("/channels.csv", summary="The per-channel table as CSV (marketer)", media_type="text/csv")
    async def channels_csv(
        self,
        ctx: Ctx,
        window: EventWindow,
        by: Annotated[GroupBy, BY] = "channel",
    ) -> Stream:
        async with ctx.readers() as session:
            report = await channel_report(session, window, by, ctx.settings.currency)
        return csv_download([by, *ROW_FIELDS], _rows_of(report.rows), f"analytics-by-{by}.csv")

    @get("/campaigns", summary="Funnel per campaign (marketer)")
    async def campaigns(
        self,
        ctx: Ctx,
        window: EventWindow,
    ) -> Breakdown:
        async with ctx.readers() as session:
            rows = await funnel(session, window, "campaign")
            names = {id_: name for id_, name in await session.execute(select(Campaign.id, Campaign.name))}
        return Breakdown(sorted(_named(rows, names), key=lambda row: int(row.key)), ctx.settings.currency)

    @get("/stores", summary="Redemptions per store, most first (marketer)")
    async def stores(
        self,
        ctx: Ctx,
        window: EventWindow,
    ) -> Breakdown:
        async with ctx.readers() as session:
            rows = await funnel(session, window, "store")
            names = {id_: name for id_, name in await session.execute(select(Store.id, Store.name))}
        ranked = sorted(_named(rows, names), key=lambda row: (-row.redeemed, int(row.key)))
        return Breakdown(ranked, ctx.settings.currency)

    @get("/daily", summary="Daily time series (marketer)")
    async def daily_series(
        self,
        ctx: Ctx,
        window: EventWindow,
        tz: Annotated[str, QueryParameter(max_length=64, description="IANA time zone of the days")] = "UTC",
    ) -> DailySeries:
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise InvalidValue("Unknown time zone", field="tz", source="query") from error
        async with ctx.readers() as session:
            days = await daily(session, window, zone)
        return DailySeries(time_zone=tz, days=days, currency=ctx.settings.currency)

    @get("/customers/{customer_id:int}", summary="One customer's response profile (marketer)")
    async def customer(self, ctx: Ctx, customer_id: PathId) -> CustomerProfile:
        async with ctx.readers() as session:
            return await customer_profile(session, customer_id, ctx.clock.now(), ctx.settings.currency)

    @get(
        "/redemptions.csv",
        summary="Every redemption and void as CSV, streamed (marketer)",
        media_type="text/csv",
    )
    async def redemptions_csv(
        self,
        ctx: Ctx,
        window: EventWindow,
    ) -> Stream:
        return csv_download(REDEMPTION_COLUMNS, redemption_rows(ctx.readers, window), "redemptions.csv")
