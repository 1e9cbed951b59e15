"""Pure campaign rules: when a coupon expires, which code it carries and how it reads, what it
takes off. (Who is in a segment is decided in the database: ``segments``.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from tessera.campaigns.schemas import Discount, DiscountKind
from tessera.codes.formats import group
from tessera.codes.keys import CodeKeys
from tessera.models.campaigns import Campaign


def coupon_expiry(campaign: Campaign, issued_at: datetime) -> datetime:
    """The earlier of the campaign's end and ``issued_at + coupon_valid_days``."""
    if campaign.coupon_valid_days is None:
        return campaign.ends_at
    return min(campaign.ends_at, issued_at + timedelta(days=campaign.coupon_valid_days))


def is_running(campaign: Campaign, now: datetime) -> bool:
    return campaign.published_at is not None and campaign.starts_at <= now < campaign.ends_at


def code_for(keys: CodeKeys, campaign: Campaign, serial: int) -> str:
    if campaign.code_format == "ean13":
        if campaign.ean_prefix is None or campaign.ean_number is None:
            raise ValueError("EAN-13 campaign without prefix or number")
        return keys.ean_code(campaign.ean_prefix, campaign.ean_number, campaign.id, serial)
    return keys.random_code(campaign.id, serial, campaign.code_length)


def code_display(campaign: Campaign, code: str) -> str:
    """The code as people read and type it: a random code in groups of four, an EAN-13 code
    as printed under its bars."""
    return group(code) if campaign.code_format == "random" else code


def discount_of(campaign: Campaign) -> Discount:
    return Discount(cast(DiscountKind, campaign.discount_kind), campaign.discount_value, campaign.currency)


# Currencies whose minor unit is not a hundredth (ISO 4217 exponents other than 2).
_MINOR_DIGITS = {"JPY": 0, "KRW": 0, "HUF": 2, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "JOD": 3, "TND": 3}


def discount_text(discount: Discount) -> str:
    """The discount as a person reads it: ``20% off``, ``5.00 EUR off``, ``Free item``."""
    if discount.kind == "percent":
        return f"{discount.value}% off"
    if discount.kind == "amount":
        digits = _MINOR_DIGITS.get(discount.currency or "", 2)
        amount = f"{discount.value / 10**digits:.{digits}f}"
        return f"{amount} {discount.currency} off"
    return "Free item"
