"""Examples of the reading operations: analytics and health."""

from __future__ import annotations

from typing import Any

from tessera.http.openapi_examples.shapes import Examples


def _row(key: str, issued: int, redemptions: int, voided: int, revenue: int, **other: Any) -> dict[str, Any]:
    redeemed = redemptions - voided
    return {
        "key": key,
        "issued": issued,
        "notified": other.get("notified", 0),
        "pass_downloaded": other.get("pass_downloaded", 0),
        "saved_to_wallet": other.get("saved_to_wallet", 0),
        "removed_from_wallet": other.get("removed_from_wallet", 0),
        "validated": other.get("validated", redemptions),
        "redemptions": redemptions,
        "voided": voided,
        "redeemed": redeemed,
        "expired": other.get("expired", 0),
        "redemption_rate": round(redeemed / issued, 4) if issued else None,
        "median_seconds_to_redeem": other.get("median", 93600.0 if redeemed else None),
        "p90_seconds_to_redeem": other.get("p90", 432000.0 if redeemed else None),
        "revenue": revenue,
        "discount_given": revenue * 15 // 100,
        "entries": other.get("entries", 0),
        "received": other.get("received", 0),
        "sent": other.get("sent", 0),
        "delivered": other.get("delivered", 0),
        "failed": other.get("failed", 0),
        **({"name": other["name"]} if "name" in other else {}),
    }


EXAMPLES: Examples = {
    ("get", "/api/audit"): (
        None,
        {
            "200": {
                "items": [
                    {
                        "id": 981,
                        "at": "2026-12-06T09:14:03.512000Z",
                        "actor_role": "marketer",
                        "actor_id": 3,
                        "action": "campaign.published",
                        "subject_type": "campaign",
                        "subject_id": "42",
                        "data": {"job_id": 17},
                    },
                    {
                        "id": 980,
                        "at": "2026-12-06T09:12:40.001000Z",
                        "actor_role": "marketer",
                        "actor_id": 3,
                        "action": "campaign.changed",
                        "subject_type": "campaign",
                        "subject_id": "42",
                        "data": {"fields": ["ends_at", "segment"]},
                    },
                ],
                "next_cursor": "980",
            }
        },
    ),
    ("get", "/health"): (
        None,
        {
            "200": {
                "status": "ok",
                "database": "ok",
                "outbox": {"due": 0, "oldest_due_seconds": None},
                "analytics_events_behind": 0,
            }
        },
    ),
    ("get", "/api/analytics/channels"): (
        None,
        {
            "200": {
                "by": "channel",
                "rows": [
                    _row("email", 2000, 310, 2, 770000),
                    _row("print", 50000, 1210, 9, 2950000),
                    _row(
                        "pwa", 1188, 402, 3, 1009500, notified=1100, pass_downloaded=640, saved_to_wallet=590
                    ),
                    _row("sms", 240, 96, 0, 240000, entries=310, received=720)
                    | {"sent": 715, "delivered": 702, "failed": 6},
                ],
                "currency": "EUR",
            }
        },
    ),
    ("get", "/api/analytics/campaigns"): (
        None,
        {"200": {"rows": [_row("1", 53188, 1922, 14, 4729500, name="Spring sale")], "currency": "EUR"}},
    ),
    ("get", "/api/analytics/stores"): (
        None,
        {
            "200": {
                "rows": [
                    _row("2", 0, 1170, 8, 2871000, name="Váci utca", median=None, p90=None),
                    _row("1", 0, 752, 6, 1858500, name="Andrássy út", median=None, p90=None),
                ],
                "currency": "EUR",
            }
        },
    ),
    ("get", "/api/analytics/daily"): (
        None,
        {
            "200": {
                "time_zone": "Europe/Budapest",
                "days": [
                    {
                        "date": "2026-06-01",
                        "issued": 51188,
                        "notified": 1100,
                        "saved_to_wallet": 402,
                        "redemptions": 161,
                        "voided": 1,
                        "redeemed": 160,
                        "revenue": 392000,
                    },
                    {
                        "date": "2026-06-02",
                        "issued": 2000,
                        "notified": 0,
                        "saved_to_wallet": 188,
                        "redemptions": 244,
                        "voided": 2,
                        "redeemed": 242,
                        "revenue": 601500,
                    },
                ],
                "currency": "EUR",
            }
        },
    ),
    ("get", "/api/analytics/customers/{customer_id}"): (
        None,
        {
            "200": {
                "customer_id": 12,
                "issued": 6,
                "redeemed": 4,
                "redemption_rate": 0.6667,
                "median_seconds_to_redeem": 86400.0,
                "redemptions_per_30_days": 1.3333,
                "first_redeemed_at": "2026-04-03T17:02:44Z",
                "last_redeemed_at": "2026-06-03T14:22:05Z",
                "revenue": 10400,
                "discount_given": 1560,
                "currency": "EUR",
            }
        },
    ),
    ("get", "/api/analytics/channels.csv"): (
        None,
        {
            "200": "channel,issued,notified,pass_downloaded,saved_to_wallet,removed_from_wallet,validated,"
            "redemptions,voided,redeemed,expired,redemption_rate,median_seconds_to_redeem,"
            "p90_seconds_to_redeem,revenue,discount_given,entries,received,sent,delivered,failed\n"
            "email,2000,0,0,0,0,310,310,2,308,0,0.154,93600.0,432000.0,770000,115500,0,0,0,0,0\n"
            "sms,240,0,0,0,0,96,96,0,96,0,0.4,93600.0,432000.0,240000,36000,310,720,715,702,6\n"
        },
    ),
    ("get", "/api/analytics/redemptions.csv"): (
        None,
        {
            "200": "occurred_at,event,campaign_id,campaign,coupon_id,channel,medium,store_id,store,"
            "staff_id,order_total\n"
            "2026-06-03T14:22:05.118302Z,redeemed,1,Spring sale,412,pwa,pwa,2,Váci utca,5,2500\n"
            "2026-06-03T14:25:40.906151Z,voided,1,Spring sale,412,pwa,pwa,2,Váci utca,5,2500\n"
        },
    ),
}
