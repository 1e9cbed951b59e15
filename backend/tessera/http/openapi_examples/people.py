"""Examples of the operations on people: staff and customer sign-in, customers and their profile,
stores and staff accounts, push subscriptions and member cards."""

from __future__ import annotations

from tessera.http.openapi_examples.shapes import CAMPAIGN_SUMMARY, COUPON, DISCOUNT, STORE, Examples

CUSTOMER = {
    "id": 12,
    "email": "ada@example.com",
    "phone": None,
    "name": "Ada",
    "birthday": "1990-04-17",
    "locale": "en",
    "timezone": "Europe/Budapest",
    "tags": ["vip"],
    "attributes": {"city": "Pécs"},
    "consent": {"terms": True, "marketing": True, "push": True},
    "created_at": "2026-05-28T16:02:11Z",
}
MEMBER_CODE = "WXPGHAP9BT4WQA2D"
# A save link is a signed JWT of several kilobytes; the example shortens its payload.
SAVE_URL = (
    "https://pay.google.com/gp/v/save/eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJ0ZXNzZXJh.c2lnbmF0dXJl"
)

EXAMPLES: Examples = {
    ("post", "/api/auth/staff/login"): (
        {"username": "till.anna", "password": "correct horse battery"},
        {
            "200": {
                "token": "tss_I4fzI8jlsynteuETdVj32Z-jhBYLfGIav7SF8aP4cks",
                "expires_at": "2026-06-02T04:00:00Z",
                "store_id": 2,
                "staff_id": 5,
            }
        },
    ),
    ("get", "/api/auth/staff/me"): (
        None,
        {"200": {"staff_id": 5, "username": "till.anna", "can_void": True, "store": STORE}},
    ),
    ("post", "/api/auth/customer/code"): (
        {"email": "ada@example.com", "locale": "en"},
        {
            "202": {
                "channel": "email",
                "expires_in_seconds": 600,
                "detail": "If this e-mail address or phone number is registered, "
                "a sign-in code is on its way.",
            }
        },
    ),
    ("post", "/api/auth/customer/login"): (
        {"email": "ada@example.com", "code": "482913"},
        {"200": {"token": "tsc_r5JmwVUgu-htL5-MctMz2TdqTYbD0mrmQ9MDjiQ7d-Q", "customer_id": 12}},
    ),
    ("post", "/api/customers"): (
        {
            "email": "ada@example.com",
            "name": "Ada",
            "birthday": "1990-04-17",
            "locale": "en",
            "timezone": "Europe/Budapest",
            "consent": {"terms": True, "marketing": True, "push": True},
            "tags": ["vip"],
            "attributes": {"city": "Pécs"},
        },
        {"201": {"id": 12, "token": "tsc_npdQXxB1KqwzOIXH8dNabkQWG3-TIyGwNZFsa55wdTA", "coupons_issued": 1}},
    ),
    ("get", "/api/customers"): (None, {"200": {"items": [CUSTOMER], "next_cursor": None}}),
    ("get", "/api/customers/{customer_id}"): (None, {"200": CUSTOMER}),
    ("patch", "/api/customers/{customer_id}"): (
        {"tags": ["vip", "milan"], "attributes": {"city": "Milano", "tier": "gold"}},
        {"200": {**CUSTOMER, "tags": ["vip", "milan"], "attributes": {"city": "Milano", "tier": "gold"}}},
    ),
    ("get", "/api/me"): (None, {"200": CUSTOMER}),
    ("patch", "/api/me"): (
        {"name": "Ada L.", "timezone": "Europe/Rome", "consent": {"push": False}},
        {
            "200": {
                **CUSTOMER,
                "name": "Ada L.",
                "timezone": "Europe/Rome",
                "consent": {"terms": True, "marketing": True, "push": False},
            }
        },
    ),
    ("get", "/api/me/coupons"): (None, {"200": [COUPON]}),
    ("get", "/api/me/card"): (
        None,
        {
            "200": {
                "member_code": MEMBER_CODE,
                "code_display": "WXPG-HAP9-BT4W-QA2D",
                "qr_payload": f"TSM1:P:{MEMBER_CODE}",
                "qr_svg": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 33 33" class="segno">…</svg>',
                "apple_pass_url": "/api/me/card/pass.pkpass",
                "google_wallet_url": "/api/me/card/google-wallet",
            }
        },
    ),
    ("get", "/api/me/card/google-wallet"): (None, {"200": {"save_url": SAVE_URL}}),
    ("post", "/api/members/lookup"): (
        {"code": f"TSM1:A:{MEMBER_CODE}", "entry": "scan"},
        {
            "200": {
                "member": {"display_name": "Ada L.", "card_ending": "QA2D"},
                "medium": "apple_wallet",
                "coupons": [
                    {
                        "coupon_id": 412,
                        "campaign": CAMPAIGN_SUMMARY,
                        "discount": DISCOUNT,
                        "valid_from": COUPON["valid_from"],
                        "expires_at": COUPON["expires_at"],
                        "redeem_code": f"TSR1:M:{COUPON['code']}",
                        "min_order_total": None,
                    }
                ],
            }
        },
    ),
    ("post", "/api/stores"): (
        {
            "name": "Váci utca",
            "timezone": "Europe/Budapest",
            "location": {"latitude": 47.4925, "longitude": 19.0513},
        },
        {"201": STORE},
    ),
    ("patch", "/api/stores/{store_id}"): ({"auto_redeem": True}, {"200": {**STORE, "auto_redeem": True}}),
    ("get", "/api/stores"): (None, {"200": [STORE]}),
    ("post", "/api/staff"): (
        {"username": "till.anna", "password": "correct horse battery", "store_id": 2, "can_void": True},
        {"201": {"id": 5, "username": "till.anna", "store_id": 2, "can_void": True, "disabled": False}},
    ),
    ("get", "/api/staff"): (
        None,
        {"200": [{"id": 5, "username": "till.anna", "store_id": 2, "can_void": True, "disabled": False}]},
    ),
    ("patch", "/api/staff/{staff_id}"): (
        {"disabled": True},
        {"200": {"id": 5, "username": "till.anna", "store_id": 2, "can_void": True, "disabled": True}},
    ),
    ("get", "/api/push/vapid-public-key"): (
        None,
        {
            "200": {
                "public_key": "BIkygtnKyUW5AReiOmHsu_O61g9RO34MPkc46H_OBuRUCHkdI-dsSAuCY4Bv"
                "RIOpQaQgen0lQNBQPwP7yS9ujqQ"
            }
        },
    ),
    ("post", "/api/me/push-subscriptions"): (
        {
            "endpoint": "https://push.example.invalid/send/dGVzc2VyYS1leGFtcGxl",
            "expirationTime": None,
            "keys": {
                "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1Xbjh"
                "azAkj7I99e8QcYP7DkM",
                "auth": "tBHItJI5svbpez7KI4CCXg",
            },
        },
        {"201": {"id": 7, "endpoint": "https://push.example.invalid/send/dGVzc2VyYS1leGFtcGxl"}},
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
    ("post", "/api/messages/receipts"): (
        {"message_id": "sms-reply-4711", "status": "delivered", "at": "2026-06-03T10:15:07Z"},
        {"200": {"message_id": "sms-reply-4711", "status": "delivered", "duplicate": False}},
    ),
}
