"""Request and answer examples of the main operations, for the OpenAPI document.

Each is a real exchange's shape (the contract tests validate every one against its schema).
"""

from __future__ import annotations

from typing import Any

_DISCOUNT = {"kind": "percent", "value": 15, "currency": None}
_CAMPAIGN = {"id": 1, "name": "Spring sale", "description": "15% off everything in store"}
_WHEN = {"valid_from": "2026-06-01T00:00:00Z", "expires_at": "2026-06-30T23:59:59Z"}

# (method, path): (request body example or None, {status: answer example})
EXAMPLES: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {
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
        {
            "201": {
                **_CAMPAIGN,
                "slug": "spring-sale",
                "discount": _DISCOUNT,
                "starts_at": "2026-06-01T00:00:00Z",
                "ends_at": "2026-06-30T23:59:59Z",
                "coupon_valid_days": None,
                "code": {"format": "random", "length": 16, "prefix": None},
                "limits": {"per_customer": 1, "max_redemptions": None},
                "segment": {"tags_any": ["vip"]},
                "stores": None,
                "min_order_total": None,
                "wallet": {},
                "trigger": None,
                "sms_keyword": None,
                "sms_voucher": None,
                "redemption_count": 0,
                "published_at": None,
                "status": "draft",
                "created_at": "2026-05-20T09:30:00Z",
                "updated_at": "2026-05-20T09:30:00Z",
            }
        },
    ),
    ("post", "/api/campaigns/{campaign_id}/publish"): (
        None,
        {
            "202": {
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
        },
    ),
    ("post", "/api/redemptions"): (
        {"code": "TSR-7Q2K-M9XH-44PD", "order_total": 2500, "entry": "scan"},
        {
            "201": {
                "id": 31,
                "coupon_id": 412,
                "campaign_id": 1,
                "redeemed_at": "2026-06-03T14:22:05Z",
                "store_id": 2,
                "staff_id": 5,
                "medium": "qr",
                "channel": "pwa",
                "order_total": 2500,
                "discount": _DISCOUNT,
            }
        },
    ),
    ("post", "/api/redemptions/validate"): (
        {"code": "TSR-7Q2K-M9XH-44PD", "entry": "manual"},
        {
            "200": {
                "coupon_id": 412,
                "campaign": _CAMPAIGN,
                "discount": _DISCOUNT,
                **_WHEN,
                "medium": "typed",
                "min_order_total": None,
                "stores": None,
                "currency": "EUR",
            }
        },
    ),
    ("post", "/api/customers"): (
        {
            "email": "ada@example.com",
            "name": "Ada",
            "consent": {"terms": True, "marketing": True},
            "tags": ["vip"],
            "attributes": {"city": "Pécs"},
        },
        {"201": {"id": 12, "token": "c_9f2d…", "coupons_issued": 1}},
    ),
    ("get", "/api/me/coupons"): (
        None,
        {
            "200": [
                {
                    "id": 412,
                    "code": "TSR7Q2KM9XH44PD",
                    "code_display": "TSR-7Q2K-M9XH-44PD",
                    "qr_payload": "TSR7Q2KM9XH44PD",
                    "campaign": _CAMPAIGN,
                    "discount": _DISCOUNT,
                    "channel": "pwa",
                    "issued_at": "2026-06-01T08:00:03Z",
                    **_WHEN,
                    "redeemed_at": None,
                    "status": "active",
                    "qr_svg_url": "/api/coupons/412/qr.svg",
                    "apple_pass_url": "/api/coupons/412/pass.pkpass",
                    "google_wallet_url": None,
                }
            ]
        },
    ),
    ("post", "/api/contests/{contest_id}/entries"): (
        {"code": "CX4R-8K2M-PQ7T"},
        {
            "201": {
                "id": 88,
                "contest_id": 3,
                "result": "counted",
                "participant_id": "p_5b1e",
                "product": "Cola",
                "points": 3,
                "total_points": 12,
                "rank": 4,
                "participants": 310,
                "prize": None,
                "submitted_at": "2026-06-03T18:40:00Z",
            }
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
            "200": {
                "type": "end",
                "recipients": 2,
                "messages": 2,
                "problems": 0,
                "issued": 2,
            }
        },
    ),
    ("post", "/api/sms/inbound"): (
        {
            "id": "gw-5f2c9a",
            "from": "+36301234567",
            "to": "+3620000000",
            "text": "COFFEE",
            "received_at": "2026-06-03T10:15:00Z",
        },
        {"200": {"id": "gw-5f2c9a", "duplicate": False}},
    ),
}


def describe_examples(document: dict[str, Any]) -> None:
    """Put each example on its operation's request body and answers, in the document's JSON
    form (the spec objects would drop the examples' nulls)."""
    for (method, path), (request, answers) in EXAMPLES.items():
        operation = document["paths"].get(path, {}).get(method)
        if operation is None:
            raise LookupError(f"no operation {method.upper()} {path} to give an example")
        if request is not None:
            for media in operation["requestBody"]["content"].values():
                media["examples"] = {"request": {"summary": "A typical request", "value": request}}
        for status, answer in answers.items():
            if status not in operation["responses"]:
                raise LookupError(f"{method.upper()} {path} documents no {status} answer")
            for media in operation["responses"][status].get("content", {}).values():
                media["examples"] = {"answer": {"summary": "Its answer", "value": answer}}
