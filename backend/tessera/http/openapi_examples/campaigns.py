"""Examples of the campaign operations: campaigns, publishing, personal coupons, code lists,
mail merges, redemptions and voids."""

from __future__ import annotations

from tessera.http.openapi_examples.shapes import (
    CAMPAIGN,
    CAMPAIGN_SUMMARY,
    CODE,
    CODE_DISPLAY,
    COUPON,
    DISCOUNT,
    PUBLISHED_CAMPAIGN,
    VALIDITY,
    Examples,
)

JOB = {
    "job_id": 7,
    "campaign_id": 1,
    "status": "running",
    "eligible": 1200,
    "issued": 0,
    "already_had": 0,
    "progress_url": "/api/campaigns/1/publish-jobs/7",
    "created_at": "2026-06-01T08:00:00Z",
    "updated_at": "2026-06-01T08:00:00Z",
    "finished_at": None,
    "error": None,
}
BATCH = {
    "id": 4,
    "campaign_id": 1,
    "count": 50000,
    "generated": 0,
    "channel": "print",
    "status": "running",
    "created_at": "2026-06-01T09:00:00Z",
    "finished_at": None,
    "expires_at": "2026-06-30T23:59:59Z",
    "progress_url": "/api/campaigns/1/codes/batches/4",
    "export_url": "/api/campaigns/1/codes?format=csv&batch_id=4",
}
MERGE_JOB = {
    "id": 3,
    "message_id": "june-newsletter",
    "channel": "email",
    "status": "running",
    "progress_url": "/api/mail-merges/3",
    "recipients": 2,
    "processed": 0,
    "messages": 0,
    "problems": {},
    "issued": 0,
    "delivery": {"queued": 0, "sent": 0, "failed": 0},
    "failed_reasons": [],
    "created_at": "2026-06-02T07:30:00Z",
    "updated_at": "2026-06-02T07:30:00Z",
    "finished_at": None,
    "error": None,
}

EXAMPLES: Examples = {
    ("post", "/api/campaigns"): (
        {
            "name": "Spring sale",
            "description": "15% off everything in store",
            "discount": {"kind": "percent", "value": 15},
            "starts_at": "2026-06-01T00:00:00Z",
            "ends_at": "2026-06-30T23:59:59Z",
            "limits": {"per_customer": 1},
            "segment": {"tags_any": ["vip"]},
        },
        {"201": CAMPAIGN},
    ),
    ("get", "/api/campaigns"): (None, {"200": {"items": [PUBLISHED_CAMPAIGN], "next_cursor": None}}),
    ("get", "/api/campaigns/{campaign_id}"): (None, {"200": PUBLISHED_CAMPAIGN}),
    ("patch", "/api/campaigns/{campaign_id}"): (
        {
            "description": "15% off everything in store, this month",
            "limits": {"max_redemptions": 5000},
            "wallet": {"background_color": "#1F294B", "foreground_color": "#FFFFFF", "logo_text": "Spring"},
        },
        {
            "200": {
                **PUBLISHED_CAMPAIGN,
                "description": "15% off everything in store, this month",
                "limits": {"per_customer": 1, "max_redemptions": 5000},
                "redemption_count": 37,
                "wallet": {
                    **PUBLISHED_CAMPAIGN["wallet"],  # type: ignore[dict-item]
                    "background_color": "#1F294B",
                    "foreground_color": "#FFFFFF",
                    "logo_text": "Spring",
                },
                "updated_at": "2026-06-03T10:15:00Z",
            }
        },
    ),
    ("get", "/api/campaigns/{campaign_id}/audience"): (None, {"200": {"count": 1200}}),
    ("post", "/api/campaigns/{campaign_id}/publish"): (None, {"202": JOB}),
    ("get", "/api/campaigns/{campaign_id}/publish-jobs/{job_id}"): (
        None,
        {
            "200": {
                **JOB,
                "status": "done",
                "eligible": 1200,
                "issued": 1188,
                "already_had": 12,
                "updated_at": "2026-06-01T08:00:02Z",
                "finished_at": "2026-06-01T08:00:02Z",
            }
        },
    ),
    ("post", "/api/campaigns/{campaign_id}/coupons"): (
        {"customer_id": 12, "channel": "email", "message_id": "june-newsletter"},
        {
            "201": {
                **COUPON,
                "id": 2107,
                "code": "MVK24ERCSNZKD9QY",
                "code_display": "MVK2-4ERC-SNZK-D9QY",
                "qr_payload": "TSR1:P:MVK24ERCSNZKD9QY",
                "channel": "email",
                "issued_at": "2026-06-02T07:30:00Z",
                "qr_svg_url": "/api/coupons/2107/qr.svg",
                "apple_pass_url": "/api/coupons/2107/pass.pkpass",
                "google_wallet_url": "/api/coupons/2107/google-wallet",
            }
        },
    ),
    ("post", "/api/campaigns/{campaign_id}/codes"): ({"count": 50000, "channel": "print"}, {"202": BATCH}),
    ("get", "/api/campaigns/{campaign_id}/codes/batches/{batch_id}"): (
        None,
        {"200": {**BATCH, "generated": 50000, "status": "done", "finished_at": "2026-06-01T09:00:04Z"}},
    ),
    ("get", "/api/campaigns/{campaign_id}/codes"): (
        None,
        {
            "200": "code,serial,batch_id,channel,expires_at,redeemed\n"
            "YSQ7FWX27FDTTXP3,2,4,print,2026-06-30T23:59:59+00:00,\n"
            "B8CAXTJGC32389BA,3,4,print,2026-06-30T23:59:59+00:00,redeemed\n"
        },
    ),
    ("post", "/api/mail-merges"): (
        {
            "message_id": "june-newsletter",
            "channel": "email",
            "template": {
                "subject": "A gift for you, {{name}}",
                "body": "Your code: {{coupon:spring-sale}}. Your wallet: {{wallet_link:spring-sale}}",
                "format": "text",
            },
            "recipients": [{"email": "ada@example.com"}, {"customer_id": 12}],
        },
        {
            "200": {"type": "end", "recipients": 2, "messages": 2, "problems": 0, "issued": 2},
            "202": MERGE_JOB,
        },
    ),
    ("get", "/api/mail-merges/{merge_id}"): (
        None,
        {
            "200": {
                **MERGE_JOB,
                "status": "done",
                "processed": 2,
                "messages": 1,
                "problems": {"no_marketing_consent": 1},
                "issued": 1,
                "delivery": {"queued": 0, "sent": 1, "failed": 0},
                "updated_at": "2026-06-02T07:30:01Z",
                "finished_at": "2026-06-02T07:30:01Z",
            }
        },
    ),
    ("post", "/api/redemptions"): (
        {"code": f"TSR1:P:{CODE}", "order_total": 2500, "entry": "scan"},
        {
            "201": {
                "id": 31,
                "coupon_id": 412,
                "campaign_id": 1,
                "redeemed_at": "2026-06-03T14:22:05Z",
                "store_id": 2,
                "staff_id": 5,
                "medium": "pwa",
                "channel": "pwa",
                "order_total": 2500,
                "discount": DISCOUNT,
            }
        },
    ),
    ("post", "/api/redemptions/validate"): (
        {"code": CODE_DISPLAY, "entry": "manual", "order_total": 2500},
        {
            "200": {
                "coupon_id": 412,
                "campaign": CAMPAIGN_SUMMARY,
                "discount": DISCOUNT,
                **VALIDITY,
                "medium": "manual",
                "min_order_total": None,
                "stores": None,
                "currency": "EUR",
            }
        },
    ),
    ("post", "/api/redemptions/{redemption_id}/void"): (
        None,
        {"200": {"id": 32, "redemption_id": 31, "coupon_id": 412, "voided_at": "2026-06-03T14:25:40Z"}},
    ),
}
