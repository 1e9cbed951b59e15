"""Per-channel analytics against a history built through the API, every figure computed by hand.

Campaign A (20% off, segment "vip") goes out to three customers through the app (pwa), to a fourth
by e-mail and as five printed codes; campaign B (5.00 EUR off) to the same three through the app.
Times are hours after the publish (t0)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tessera.analytics.rollup import Rollup
from tessera.analytics.sketch import RELATIVE_ACCURACY
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.db.sqlite_worker import SqliteWorker
from tessera.coupons.expiry import ExpiryRecorder
from tests.support.api import Api, Headers, iso, problem

HOUR = 3600


def about(seconds: float) -> Any:
    """Times to redeem come from histograms whose buckets are 1% wide (``analytics.sketch``)."""
    return pytest.approx(seconds, rel=RELATIVE_ACCURACY)


def _one_redemption(hours: int, order_total: int, discount: int) -> dict[str, Any]:
    seconds = hours * HOUR
    return {
        "redemptions": 1,
        "redeemed": 1,
        "median_seconds_to_redeem": about(seconds),
        "p90_seconds_to_redeem": about(seconds),
        "revenue": order_total,
        "discount_given": discount,
    }


DAN_AT_5H = _one_redemption(5, 5_000, 1_000)  # Dan's e-mailed coupon, shown as an Apple pass
PRINT_AT_4H = _one_redemption(4, 2_000, 400)  # a printed code


async def _coupon(api: Api, customer: Headers, campaign_id: int) -> dict[str, Any]:
    coupons = [c for c in await api.coupons(customer) if c["campaign"]["id"] == campaign_id]
    (coupon,) = coupons
    return coupon


async def _redeem(api: Api, staff: Headers, code: str, **extra: Any) -> dict[str, Any]:
    response = await api.redeem(staff, code, **extra)
    assert response.status_code == 201, response.text
    redemption: dict[str, Any] = response.json()
    return redemption


async def _print_codes(api: Api, campaign_id: int, count: int) -> list[str]:
    marketer = await api.marketer()
    response = await api.client.post(
        f"/api/campaigns/{campaign_id}/codes", json={"count": count, "channel": "print"}, headers=marketer
    )
    assert response.status_code == 202, response.text
    batch = response.json()
    for _ in range(500):
        progress = (await api.client.get(batch["progress_url"], headers=marketer)).json()
        if progress["status"] == "done":
            break
        await asyncio.sleep(0.02)
    export = await api.client.get(batch["export_url"], headers=marketer)
    return [row["code"] for row in csv.DictReader(io.StringIO(export.text))]


async def _apple_pass(api: Api, customer: Headers, coupon: dict[str, Any]) -> dict[str, Any]:
    response = await api.client.get(coupon["apple_pass_url"], headers=customer)
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        data: dict[str, Any] = json.loads(archive.read("pass.json"))
    return data


async def _channels(api: Api, **params: Any) -> dict[str, dict[str, Any]]:
    response = await api.client.get("/api/analytics/channels", params=params, headers=await api.marketer())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["by"] == params.get("by", "channel")
    assert body["currency"] == "EUR"  # the installation's: every row's money
    return {row.pop("key"): row for row in body["rows"]}


def _row(**figures: Any) -> dict[str, Any]:
    zero: dict[str, Any] = {
        "issued": 0,
        "notified": 0,
        "pass_downloaded": 0,
        "saved_to_wallet": 0,
        "removed_from_wallet": 0,
        "expired": 0,
        "validated": 0,
        "redemptions": 0,
        "voided": 0,
        "redeemed": 0,
        "redemption_rate": None,
        "median_seconds_to_redeem": None,
        "p90_seconds_to_redeem": None,
        "revenue": 0,
        "discount_given": 0,
        "entries": 0,
        "received": 0,
        "sent": 0,
        "delivered": 0,
        "failed": 0,
    }
    return {**zero, **figures}


@dataclass(frozen=True)
class History:
    t0: datetime
    a: int
    b: int
    bea: int


async def _history(api: Api) -> History:
    """The story in the module docstring, told through the API."""
    t0 = api.clock.now()
    s1, s2 = await api.store("Centro"), await api.store("Stazione")
    till1, till2 = await api.staff(s1), await api.staff(s2)
    _, ada = await api.customer(tags=["vip"])
    bea_id, bea = await api.customer(tags=["vip"])
    _, cleo = await api.customer(tags=["vip"])
    c4, dan = await api.customer()
    a = await api.campaign(name="Spring", segment={"tags_any": ["vip"]}, limits={"per_customer": None})
    b = await api.campaign(
        name="Coffee",
        discount={"kind": "amount", "value": 500},  # in the installation's currency
        segment={"tags_any": ["vip"]},
    )
    assert b["discount"] == {"kind": "amount", "value": 500, "currency": "EUR"}
    await api.publish(a["id"])
    emailed = await api.client.post(
        f"/api/campaigns/{a['id']}/coupons",
        json={"customer_id": c4, "channel": "email"},
        headers={**await api.marketer(), "Idempotency-Key": "newsletter-7-dan"},
    )
    assert emailed.status_code == 201, emailed.text
    printed = await _print_codes(api, a["id"], 5)
    ada_a, bea_a, cleo_a = [await _coupon(api, who, a["id"]) for who in (ada, bea, cleo)]
    dan_a = await _coupon(api, dan, a["id"])
    assert dan_a["channel"] == "email"

    api.clock.advance(timedelta(hours=1))
    await api.publish(b["id"])
    ada_pass = await _apple_pass(api, ada, ada_a)  # pass downloaded (apple_wallet)
    registered = await api.client.post(
        f"/wallet/apple/v1/devices/ada-phone/registrations/{ada_pass['passTypeIdentifier']}/{ada_pass['serialNumber']}",
        json={"pushToken": "ab" * 32},
        headers={"Authorization": f"ApplePass {ada_pass['authenticationToken']}"},
    )
    assert registered.status_code == 201, registered.text  # saved to Apple Wallet
    checked = await api.client.post(
        "/api/redemptions/validate", json={"code": cleo_a["qr_payload"]}, headers=till1
    )
    assert checked.status_code == 200, checked.text

    api.clock.advance(timedelta(hours=1))  # t0 + 2h
    await _redeem(api, till1, ada_a["qr_payload"], order_total=10_000)
    api.clock.advance(timedelta(hours=1))  # t0 + 3h
    mistaken = await _redeem(api, till2, bea_a["code"], entry="manual")
    api.clock.advance(timedelta(hours=1))  # t0 + 4h
    await _redeem(api, till1, f"TSR1:R:{printed[0]}", order_total=2_000)  # the printed QR
    api.clock.advance(timedelta(hours=1))  # t0 + 5h
    dan_pass = await _apple_pass(api, dan, dan_a)
    await _redeem(api, till2, dan_pass["barcodes"][0]["message"], order_total=5_000)
    api.clock.advance(timedelta(hours=1))  # t0 + 6h
    voided = await api.client.post(f"/api/redemptions/{mistaken['id']}/void", headers=till2)
    assert voided.status_code == 200, voided.text
    api.clock.advance(timedelta(hours=2))  # t0 + 8h
    await _redeem(api, till2, bea_a["code"], entry="manual", order_total=3_000)
    api.clock.advance(timedelta(hours=1))  # t0 + 9h
    ada_b = await _coupon(api, ada, b["id"])
    await _redeem(api, till1, ada_b["code"], entry="manual", order_total=4_000)

    return History(t0, a["id"], b["id"], bea_id)


async def test_channel_and_medium_funnels_match_the_hand_counted_history(api: Api) -> None:
    history = await _history(api)
    t0, a = history.t0, {"id": history.a}
    # Campaign A by distribution channel.
    assert await _channels(api, campaign_id=a["id"]) == {
        "pwa": _row(
            issued=3,
            pass_downloaded=1,
            saved_to_wallet=1,
            validated=1,
            redemptions=3,
            voided=1,
            redeemed=2,  # Ada at 2h, Bea at 8h (her 3h redemption was voided)
            redemption_rate=0.6667,
            median_seconds_to_redeem=about((2 * HOUR + 8 * HOUR) / 2),
            p90_seconds_to_redeem=about(2 * HOUR + (8 * HOUR - 2 * HOUR) * 0.9),
            revenue=13_000,
            discount_given=2_000 + 600,
        ),
        "email": _row(issued=1, pass_downloaded=1, redemption_rate=1.0, **DAN_AT_5H),
        "print": _row(issued=5, redemption_rate=0.2, **PRINT_AT_4H),
    }

    # Campaign A by the medium presented at the till (and saved to wallets).
    assert await _channels(api, campaign_id=a["id"], by="medium") == {
        "apple_wallet": _row(pass_downloaded=2, saved_to_wallet=1, **DAN_AT_5H),
        "manual": _row(
            redemptions=2,
            voided=1,
            redeemed=1,
            median_seconds_to_redeem=about(8 * HOUR),
            p90_seconds_to_redeem=about(8 * HOUR),
            revenue=3_000,
            discount_given=600,
        ),
        "pwa": _row(
            validated=1,
            redemptions=1,
            redeemed=1,
            median_seconds_to_redeem=about(2 * HOUR),
            p90_seconds_to_redeem=about(2 * HOUR),
            revenue=10_000,
            discount_given=2_000,
        ),
        "print": _row(**PRINT_AT_4H),
    }

    # Both campaigns: B adds three app coupons and Ada's redemption 8h after B's publish.
    everything = await _channels(api)
    assert everything["pwa"]["issued"] == 6
    assert everything["pwa"]["redeemed"] == 3
    assert everything["pwa"]["redemption_rate"] == 0.5
    assert everything["pwa"]["median_seconds_to_redeem"] == about(8 * HOUR)
    assert everything["pwa"]["revenue"] == 17_000
    assert everything["pwa"]["discount_given"] == 2_600 + 500
    assert everything["email"] == _row(**{**(await _channels(api, campaign_id=a["id"]))["email"]})

    # A window from 2h30 to 8h30: Bea's 3h redemption and its void, the print, Dan and Bea again.
    window = await _channels(
        api,
        campaign_id=a["id"],
        since=iso(t0 + timedelta(hours=2, minutes=30)),
        until=iso(t0 + timedelta(hours=8, minutes=30)),
    )
    assert window == {
        "pwa": _row(
            redemptions=2,
            voided=1,
            redeemed=1,
            median_seconds_to_redeem=about(8 * HOUR),
            p90_seconds_to_redeem=about(8 * HOUR),
            revenue=3_000,
            discount_given=600,
        ),
        "email": _row(pass_downloaded=1, **DAN_AT_5H),
        "print": _row(**PRINT_AT_4H),
    }


async def test_analytics_are_for_marketers_and_check_their_window(api: Api) -> None:
    _, customer = await api.customer()
    staff = await api.staff()
    for headers in (customer, staff):
        problem(await api.client.get("/api/analytics/channels", headers=headers), 403, "forbidden")
    marketer = await api.marketer()
    now = api.clock.now()
    backwards = {"since": iso(now), "until": iso(now - timedelta(hours=1))}
    naive = {"since": "2026-06-01T12:00:00"}
    # Not what the document says (no UTC offset, an unknown value, not a number): 400.
    for params in (naive, {"by": "colour"}, {"campaign_id": "x"}):
        answer = await api.client.get("/api/analytics/channels", params=params, headers=marketer)
        problem(answer, 400, "invalid_input")
    # What the document says, but a window that ends before it starts: 422, naming the field.
    answer = await api.client.get("/api/analytics/channels", params=backwards, headers=marketer)
    assert problem(answer, 422, "invalid_value")["errors"] == [
        {"message": "since must be before until", "key": "since", "source": "query"}
    ]
    empty = await api.client.get("/api/analytics/channels", params={"campaign_id": 12345}, headers=marketer)
    assert empty.json() == {"by": "channel", "rows": [], "currency": "EUR"}


async def _get(api: Api, path: str, **params: Any) -> Any:
    response = await api.client.get(path, params=params, headers=await api.marketer())
    assert response.status_code == 200, response.text
    return response.json()


async def test_campaign_store_daily_customer_and_csv_figures(api: Api) -> None:
    history = await _history(api)
    t0 = history.t0

    campaigns = (await _get(api, "/api/analytics/campaigns"))["rows"]
    assert [(row["key"], row["name"]) for row in campaigns] == [
        (str(history.a), "Spring"),
        (str(history.b), "Coffee"),
    ]
    spring, coffee = campaigns
    assert spring["issued"] == 3 + 1 + 5
    assert (spring["redemptions"], spring["voided"], spring["redeemed"]) == (5, 1, 4)
    assert spring["redemption_rate"] == round(4 / 9, 4)
    assert spring["median_seconds_to_redeem"] == about((4 + 5) / 2 * HOUR)  # of 2h, 4h, 5h, 8h
    assert spring["p90_seconds_to_redeem"] == about(5 * HOUR + (8 - 5) * HOUR * 0.7)
    assert (spring["revenue"], spring["discount_given"]) == (20_000, 4_000)
    assert (coffee["issued"], coffee["redeemed"], coffee["median_seconds_to_redeem"]) == (
        3,
        1,
        about(8 * HOUR),
    )
    assert (coffee["revenue"], coffee["discount_given"]) == (4_000, 500)

    stores = (await _get(api, "/api/analytics/stores"))["rows"]
    assert [row["name"] for row in stores] == ["Centro", "Stazione"]  # most redeemed first
    centro, stazione = stores
    assert (centro["validated"], centro["redeemed"], centro["revenue"], centro["discount_given"]) == (
        1,
        3,
        16_000,
        2_900,
    )
    assert centro["median_seconds_to_redeem"] == about(4 * HOUR)  # of 2h, 4h, 8h
    assert (stazione["redemptions"], stazione["voided"], stazione["redeemed"]) == (3, 1, 2)
    assert stazione["median_seconds_to_redeem"] == about((5 + 8) / 2 * HOUR)
    assert (stazione["revenue"], stazione["discount_given"]) == (8_000, 1_600)

    # In Tokyo (UTC+9) t0 = 12:00 UTC is 21:00 on June 1; from 15:00 UTC it is June 2.
    tokyo = await _get(api, "/api/analytics/daily", tz="Asia/Tokyo")
    assert tokyo == {
        "time_zone": "Asia/Tokyo",
        "currency": "EUR",
        "days": [
            {
                "date": "2026-06-01",
                "issued": 12,
                "notified": 0,
                "saved_to_wallet": 1,
                "redemptions": 1,
                "voided": 0,
                "redeemed": 1,
                "revenue": 10_000,
            },
            {
                "date": "2026-06-02",
                "issued": 0,
                "notified": 0,
                "saved_to_wallet": 0,
                "redemptions": 5,
                "voided": 1,
                "redeemed": 4,
                "revenue": 14_000,
            },
        ],
    }
    (spring_day,) = (await _get(api, "/api/analytics/daily", campaign_id=history.a))["days"]
    assert (spring_day["date"], spring_day["issued"], spring_day["redeemed"], spring_day["revenue"]) == (
        "2026-06-01",
        9,
        4,
        20_000,
    )

    profile = await _get(api, f"/api/analytics/customers/{history.bea}")
    assert profile == {
        "currency": "EUR",
        "customer_id": history.bea,
        "issued": 2,
        "redeemed": 1,
        "redemption_rate": 0.5,
        "median_seconds_to_redeem": about(8 * HOUR),
        "redemptions_per_30_days": 1.0,
        "first_redeemed_at": iso(t0 + timedelta(hours=8)),
        "last_redeemed_at": iso(t0 + timedelta(hours=8)),
        "revenue": 3_000,
        "discount_given": 600,
    }

    marketer = await api.marketer()
    export = await api.client.get(
        "/api/analytics/redemptions.csv", params={"campaign_id": history.a}, headers=marketer
    )
    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(row["event"], row["medium"], row["store"], row["order_total"]) for row in rows] == [
        ("redeemed", "pwa", "Centro", "10000"),
        ("redeemed", "manual", "Stazione", ""),
        ("redeemed", "print", "Centro", "2000"),
        ("redeemed", "apple_wallet", "Stazione", "5000"),
        ("voided", "manual", "Stazione", ""),
        ("redeemed", "manual", "Stazione", "3000"),
    ]
    assert rows[0]["occurred_at"] == iso(t0 + timedelta(hours=2))
    assert rows[0]["campaign"] == "Spring"
    table = await api.client.get(
        "/api/analytics/channels.csv", params={"campaign_id": history.a}, headers=marketer
    )
    lines = list(csv.reader(io.StringIO(table.text)))
    assert lines[0][:3] == ["channel", "issued", "notified"]
    by_channel = await _channels(api, campaign_id=history.a)
    assert [line[0] for line in lines[1:]] == sorted(by_channel)
    assert [int(line[1]) for line in lines[1:]] == [by_channel[key]["issued"] for key in sorted(by_channel)]

    problem(
        await api.client.get("/api/analytics/daily", params={"tz": "Mars/Olympus"}, headers=marketer),
        422,
        "invalid_value",
    )


async def _every_all_time_figure(api: Api, campaign_ids: list[int], *, from_the_log: bool = False) -> Any:
    """Each all-time figure the rollups serve, read through the API; ``from_the_log``: the same
    figures computed from the event log itself (a window bypasses the rollups)."""
    marketer = await api.marketer()
    since = {"since": "2000-01-01T00:00:00Z"} if from_the_log else {}
    figures: dict[str, Any] = {}
    for campaign_id in [None, *campaign_ids]:
        scope = {} if campaign_id is None else {"campaign_id": campaign_id}
        for by in ("channel", "medium"):
            figures[f"{campaign_id}/{by}"] = await _channels(api, by=by, **scope, **since)
        stores = await api.client.get("/api/analytics/stores", params={**scope, **since}, headers=marketer)
        figures[f"{campaign_id}/stores"] = stores.json()
        for zone in ("UTC", "Asia/Kolkata"):
            params = {**scope, **since, "tz": zone}
            days = await api.client.get("/api/analytics/daily", params=params, headers=marketer)
            figures[f"{campaign_id}/daily/{zone}"] = days.json()
    campaigns = await api.client.get("/api/analytics/campaigns", params=since, headers=marketer)
    figures["campaigns"] = campaigns.json()
    return figures


async def _from_the_events_alone(api: Api, campaign_ids: list[int]) -> Any:
    return await _every_all_time_figure(api, campaign_ids, from_the_log=True)


async def test_rollups_and_the_events_after_them_add_up_to_the_event_log(api: Api) -> None:
    engine = create_engine(api.settings.database)
    # As the worker runs it: on SQLite the writes go through the hot-path writer thread.
    database = api.settings.database
    writer = SqliteWorker(database.sqlite_path) if database.is_sqlite else None
    rollup = Rollup(session_factory(engine), api.clock, sqlite_writer=writer, settle_seconds=0)
    try:
        history = await _history(api)
        campaigns = [history.a, history.b]
        expected = await _from_the_events_alone(api, campaigns)
        assert await _every_all_time_figure(api, campaigns) == expected  # nothing rolled up yet
        assert await rollup.run() > 0
        (watermark,) = (await api.sql("SELECT rolled_up_to FROM analytics_state"))[0]
        assert watermark == (await api.sql("SELECT max(id) FROM events"))[0][0]
        assert await _every_all_time_figure(api, campaigns) == expected  # everything rolled up

        # More events after the watermark: a wallet save, a void and a fresh redemption.
        till = await api.staff(await api.store("Porta"))
        _, eve = await api.customer(tags=["vip"])
        await api.publish(history.a)
        eve_a = await _coupon(api, eve, history.a)
        api.clock.advance(timedelta(hours=3))
        redeemed = await _redeem(api, till, eve_a["code"], entry="manual", order_total=7_000)
        api.clock.advance(timedelta(minutes=5))
        voided = await api.client.post(f"/api/redemptions/{redeemed['id']}/void", headers=till)
        assert voided.status_code == 200, voided.text
        await _redeem(api, till, eve_a["qr_payload"], order_total=6_000)
        expected = await _from_the_events_alone(api, campaigns)
        assert await _every_all_time_figure(api, campaigns) == expected  # rollups + newer events
        assert expected[f"{history.a}/channel"]["pwa"]["redeemed"] == 3
        assert await rollup.run() > 0
        assert await _every_all_time_figure(api, campaigns) == expected
        assert await rollup.run() == 0  # nothing new: nothing counted twice
        assert await _every_all_time_figure(api, campaigns) == expected
    finally:
        if writer is not None:
            writer.close()
        await engine.dispose()


async def test_coupons_that_lapse_unused_are_counted_once_as_expired(api: Api) -> None:
    engine = create_engine(api.settings.database)
    expiries = ExpiryRecorder(session_factory(engine), api.clock)
    try:
        history = await _history(api)
        assert await expiries.run() == 0  # nothing has lapsed yet
        api.clock.advance(timedelta(days=8))  # every coupon was valid for 7 days
        # A: Cleo's app coupon and four printed codes; B: Bea's and Cleo's app coupons.
        assert await expiries.run() == 7
        assert await expiries.run() == 0
        by_channel = await _channels(api, campaign_id=history.a)
        assert {key: row["expired"] for key, row in by_channel.items()} == {"pwa": 1, "email": 0, "print": 4}
        assert (await _channels(api))["pwa"]["expired"] == 3
        (lapsed_at,) = await api.sql(
            "SELECT DISTINCT e.occurred_at = c.expires_at FROM events e JOIN coupons c ON c.id = e.coupon_id "
            "WHERE e.type = 'expired'"
        )
        assert lapsed_at[0] in (True, 1)  # recorded at the moment each coupon expired
    finally:
        await engine.dispose()
