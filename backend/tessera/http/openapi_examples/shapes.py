"""Values the examples of several operations share: one store, one campaign and its coupon, one
contest, as a real exchange shows them."""

from __future__ import annotations

from typing import Any

Examples = dict[tuple[str, str], tuple[Any, dict[str, Any]]]
"""(method, path): (request body example or None, {status: answer example})"""

STORE = {
    "id": 2,
    "name": "Váci utca",
    "timezone": "Europe/Budapest",
    "location": {"latitude": 47.4925, "longitude": 19.0513},
    "auto_redeem": False,
}
DISCOUNT = {"kind": "percent", "value": 15, "currency": None}
CAMPAIGN_SUMMARY = {"id": 1, "name": "Spring sale", "description": "15% off everything in store"}
VALIDITY = {"valid_from": "2026-06-01T00:00:00Z", "expires_at": "2026-06-30T23:59:59Z"}
CODE = "ZVHSYS6V4VS5J26V"
CODE_DISPLAY = "ZVHS-YS6V-4VS5-J26V"

CAMPAIGN = {
    **CAMPAIGN_SUMMARY,
    "slug": "spring-sale",
    "discount": DISCOUNT,
    "starts_at": "2026-06-01T00:00:00Z",
    "ends_at": "2026-06-30T23:59:59Z",
    "coupon_valid_days": None,
    "code": {"format": "random", "length": 16, "prefix": None},
    "limits": {"per_customer": 1, "max_redemptions": None},
    "segment": {"tags_any": ["vip"]},
    "stores": None,
    "min_order_total": None,
    "wallet": {
        "background_color": None,
        "foreground_color": None,
        "label_color": None,
        "logo_text": None,
        "terms": None,
        "texts": {},
        "has_logo": False,
    },
    "trigger": None,
    "sms_keyword": None,
    "sms_voucher": None,
    "redemption_count": None,
    "published_at": None,
    "status": "draft",
    "created_at": "2026-05-20T09:30:00Z",
    "updated_at": "2026-05-20T09:30:00Z",
}
PUBLISHED_CAMPAIGN = {
    **CAMPAIGN,
    "published_at": "2026-06-01T08:00:00Z",
    "status": "running",
    "updated_at": "2026-06-01T08:00:00Z",
}

COUPON = {
    "id": 412,
    "code": CODE,
    "code_display": CODE_DISPLAY,
    "qr_payload": f"TSR1:P:{CODE}",
    "campaign": CAMPAIGN_SUMMARY,
    "discount": DISCOUNT,
    "channel": "pwa",
    "issued_at": "2026-06-01T08:00:03Z",
    **VALIDITY,
    "redeemed_at": None,
    "status": "active",
    "qr_svg_url": "/api/coupons/412/qr.svg",
    "apple_pass_url": "/api/coupons/412/pass.pkpass",
    "google_wallet_url": "/api/coupons/412/google-wallet",
}

CONTEST = {
    "id": 3,
    "kind": "points",
    "name": "Collect the caps",
    "description": "Every cap has a code worth points",
    "starts_at": "2026-06-01T00:00:00Z",
    "ends_at": "2026-08-31T22:00:00Z",
    "timezone": "Europe/Rome",
    "status": "running",
    "limits": {"per_customer": None, "per_day": 10},
    "currency": "EUR",
    "prizes": [
        {"tier": "top", "name": "A year of coffee", "count": 1, "value": 36500, "campaign_id": None},
        {"tier": "consolation", "name": "A mug", "count": 2, "value": 900, "campaign_id": None},
    ],
    "pool_size": None,
    "commitment": "8b43965a347079a9e472749a856aead5f30850e790d712882580fb1457353a59",
    "seed": None,
    "entries_closed_at": None,
    "drawn_at": None,
    "leaderboard_url": "/api/contests/3/leaderboard",
    "draw_url": None,
}
DRAW = {
    "contest_id": 3,
    "algorithm": "tessera-draw-v1",
    "commitment": CONTEST["commitment"],
    "seed": "be593644af2207e8804f5c732549667e268b60863051c344d18f65570dba9570",
    "entries_closed_at": "2026-08-31T22:00:00Z",
    "drawn_at": "2026-09-01T08:00:00Z",
    "participants_digest": "fc091f4722714a9cb5cfa451ba6132d28f9eebbf4b609e94cd82be2d132d2cf9",
    "participants": [
        {"id": "YA9F-H7FP-2XQC", "points": 42, "reached_at": "2026-08-30T17:12:09.512204Z"},
        {"id": "7KX3-9QAB-MNPQ", "points": 42, "reached_at": "2026-08-31T09:40:51.003117Z"},
        {"id": "M2RD-CQ4W-8HVZ", "points": 9, "reached_at": "2026-07-02T12:01:44.870051Z"},
    ],
    "top": [{"name": "A year of coffee", "count": 1, "value": 36500}],
    "consolation": [{"name": "A mug", "count": 2, "value": 900}],
    "winners": [
        {"id": "YA9F-H7FP-2XQC", "tier": "top", "place": 1, "prize": "A year of coffee"},
        {"id": "M2RD-CQ4W-8HVZ", "tier": "consolation", "place": 1, "prize": "A mug"},
        {"id": "7KX3-9QAB-MNPQ", "tier": "consolation", "place": 2, "prize": "A mug"},
    ],
}
