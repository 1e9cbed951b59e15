"""Save-to-Google-Wallet links: the offer (or loyalty) class and object travel inside a JWT signed
by the service account, so a coupon or a member card can be saved without any prior call to
Google's API."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import jwt

from tessera.wallet.google.service_account import ServiceAccount

SAVE_URL_PREFIX = "https://pay.google.com/gp/v/save/"


def save_claims(
    account: ServiceAccount,
    offer_class: dict[str, Any],
    offer_object: dict[str, Any],
    origins: Sequence[str],
    issued_at: datetime,
) -> dict[str, Any]:
    """The claims Google expects of a save-to-wallet JWT; ``origins`` are the sites that may
    show the button."""
    return payload_claims(
        account, {"offerClasses": [offer_class], "offerObjects": [offer_object]}, origins, issued_at
    )


def payload_claims(
    account: ServiceAccount, payload: dict[str, Any], origins: Sequence[str], issued_at: datetime
) -> dict[str, Any]:
    """Save-to-wallet claims around ``payload`` (``offerClasses``/``offerObjects``,
    ``loyaltyClasses``/``loyaltyObjects``, …)."""
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be an aware datetime")
    return {
        "iss": account.client_email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(issued_at.timestamp()),
        "origins": list(origins),
        "payload": payload,
    }


def save_url(
    account: ServiceAccount,
    offer_class: dict[str, Any],
    offer_object: dict[str, Any],
    origins: Sequence[str],
    issued_at: datetime,
) -> str:
    """The link that adds the offer to the opener's Google Wallet (RS256, ``kid`` = key id)."""
    return signed_save_url(account, save_claims(account, offer_class, offer_object, origins, issued_at))


def loyalty_save_url(
    account: ServiceAccount,
    loyalty_class: dict[str, Any],
    loyalty_object: dict[str, Any],
    origins: Sequence[str],
    issued_at: datetime,
) -> str:
    """The link that adds a member card (loyalty class and object) to the opener's Google Wallet."""
    payload = {"loyaltyClasses": [loyalty_class], "loyaltyObjects": [loyalty_object]}
    return signed_save_url(account, payload_claims(account, payload, origins, issued_at))


def signed_save_url(account: ServiceAccount, claims: dict[str, Any]) -> str:
    token = jwt.encode(
        claims, account.private_key, algorithm="RS256", headers={"kid": account.private_key_id}
    )
    return SAVE_URL_PREFIX + token
