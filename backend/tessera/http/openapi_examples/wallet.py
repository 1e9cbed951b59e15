"""Examples of the wallet operations: Google save links and Apple's pass web service."""

from __future__ import annotations

from tessera.http.openapi_examples.people import SAVE_URL
from tessera.http.openapi_examples.shapes import Examples

REGISTRATION = "/wallet/apple/v1/devices/{device_id}/registrations/{pass_type}/{serial}"

EXAMPLES: Examples = {
    ("get", "/api/coupons/{coupon_id}/google-wallet"): (None, {"200": {"save_url": SAVE_URL}}),
    ("post", REGISTRATION): (
        {"pushToken": "6c9e0f4b2a1d8e7f3b5a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f"},
        {"201": None},
    ),
    ("delete", REGISTRATION): (None, {"200": None}),
    ("get", "/wallet/apple/v1/devices/{device_id}/registrations/{pass_type}"): (
        None,
        {"200": {"serialNumbers": ["412", "2107"], "lastUpdated": "1780495325118302"}},
    ),
    ("post", "/wallet/apple/v1/log"): (
        {"logs": ["[2026-06-03 16:22:07 +0200] Get pass task (pass type pass.org.tessera.coupon): 304"]},
        {},
    ),
}
