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
        median and p90 time from issue to redemption, revenue and discount given; contest
        entries, inbound messages read (`received`: SMS keyword requests, codes, STOP, HELP), and
        outgoing messages `sent` (taken by the gateway), `delivered` and `failed` (the gateway's
        receipts, and messages given up unsent). SMS keyword coupons, SMS contest entries and SMS
        replies count under channel (and, for entries, medium) `sms`; sign-in codes are not
        counted."""
        async with ctx.readers() as session:
            return await channel_report(session, window, by, ctx.settings.currency)

    @get(
        "/channels.csv",
        summary="The per-channel table as CSV (marketer)",
        description=(
            "The rows of `GET /api/analytics/channels` with the same parameters, as CSV: one line "
            "per channel (or medium, with `by=medium`), the figures in the JSON's field order. "
            "A time without a zone is 400 `invalid_input`; `since` not before `until`, or a time "
            "outside the years 1 to 9999 in UTC, is 422 `invalid_value`."
        ),
        response_description=(
            "`text/csv` (UTF-8), an attachment `analytics-by-<by>.csv`: the header `<by>,issued,"
            "notified,pass_downloaded,saved_to_wallet,removed_from_wallet,validated,redemptions,"
            "voided,redeemed,expired,redemption_rate,median_seconds_to_redeem,"
            "p90_seconds_to_redeem,revenue,discount_given,entries,received,sent,delivered,failed`, "
            "then one row per key (empty for null)"
        ),
        media_type="text/csv",
    )
    async def channels_csv(
        self,
        ctx: Ctx,
        window: EventWindow,
        by: Annotated[GroupBy, BY] = "channel",
    ) -> Stream:
        async with ctx.readers() as session:
            report = await channel_report(session, window, by, ctx.settings.currency)
        return csv_download([by, *ROW_FIELDS], _rows_of(report.rows), f"analytics-by-{by}.csv")

    @get(
        "/campaigns",
        summary="Funnel per campaign (marketer)",
        description=(
            "The funnel of `GET /api/analytics/channels`, one row per campaign (`key` its id, "
            "`name` its name), by campaign id, from the event log only. `campaign_id` keeps one "
            "campaign; `since` and `until` (RFC 3339 with a zone) bound the events' time, and "
            "without them the figures are all-time. A time without a zone is 400 "
            "`invalid_input`; `since` not before `until`, or a time outside the years 1 to 9999 in "
            "UTC, is 422 `invalid_value`."
        ),
    )
    async def campaigns(
        self,
        ctx: Ctx,
        window: EventWindow,
    ) -> Breakdown:
        async with ctx.readers() as session:
            rows = await funnel(session, window, "campaign")
            names = {id_: name for id_, name in await session.execute(select(Campaign.id, Campaign.name))}
        return Breakdown(sorted(_named(rows, names), key=lambda row: int(row.key)), ctx.settings.currency)

    @get(
        "/stores",
        summary="Redemptions per store, most first (marketer)",
        description=(
            "The funnel of `GET /api/analytics/channels` per store with events at its tills "
            "(validations, redemptions, voids; `key` its id, `name` its name), the most redeemed "
            "(net of voids) first, then by id; issue and wallet figures belong to no store. "
            "`campaign_id`, `since` and `until` as for the other analytics; a time without a zone "
            "is 400 `invalid_input`, `since` not before `until` 422 `invalid_value`."
        ),
    )
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

    @get(
        "/daily",
        summary="Daily time series (marketer)",
        description=(
            "Events per local day of the time zone `tz` (an IANA name, default `UTC`), from hourly "
            "buckets: coupons issued, notifications, wallet saves, redemptions, voids, redemptions "
            "net of voids and revenue net of voids, only days with events, oldest first. Events "
            "count on the day they happened. In a zone with a half-hour offset, the events of a "
            "day's boundary hour fall on the day that hour starts in. An unknown `tz` is 422 "
            "`invalid_value`; `campaign_id`, `since` and `until` as for the other analytics."
        ),
    )
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

    @get(
        "/customers/{customer_id:int}",
        summary="One customer's response profile (marketer)",
        description=(
            "How one customer responds, for segmenting by reaction time, frequency and value: "
            "coupons issued and redeemed (net of voids), redemption rate, median time from issue "
            "to redemption, standing redemptions per 30 days since their first coupon (at least "
            "one 30-day period), the first and last standing redemption (a void cancels the "
            "coupon's latest), revenue and discount given. Read from the event log; an id with "
            "no events (no such customer) answers zeros and nulls, not 404."
        ),
    )
    async def customer(self, ctx: Ctx, customer_id: PathId) -> CustomerProfile:
        async with ctx.readers() as session:
            return await customer_profile(session, customer_id, ctx.clock.now(), ctx.settings.currency)

    @get(
        "/redemptions.csv",
        summary="Every redemption and void as CSV, streamed (marketer)",
        description=(
            "Every `redeemed` and `voided` event in the order they happened, streamed a batch at "
            "a time so that any number of rows fits: when, which event, campaign, coupon, "
            "channel, medium, store, staff account and order total. `campaign_id`, `since` and "
            "`until` narrow it as for the other analytics (a time without a zone is 400 "
            "`invalid_input`, `since` not before `until` 422 `invalid_value`)."
        ),
        response_description=(
            "`text/csv` (UTF-8), an attachment `redemptions.csv`: the header "
            "`occurred_at,event,campaign_id,campaign,coupon_id,channel,medium,store_id,store,"
            "staff_id,order_total`, then one row per event (`occurred_at` in RFC 3339, UTC)"
        ),
        media_type="text/csv",
    )
    async def redemptions_csv(
        self,
        ctx: Ctx,
        window: EventWindow,
    ) -> Stream:
        return csv_download(REDEMPTION_COLUMNS, redemption_rows(ctx.readers, window), "redemptions.csv")
