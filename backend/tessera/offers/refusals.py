"""Every reason a coupon cannot be used, and how each one is answered: one row per reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

CouponStatus = Literal["active", "scheduled", "redeemed", "expired", "revoked", "used_up"]
"""What a coupon's owner is shown, wherever: the listing, the wallet passes, the wallet-link
page. ``used_up`` is a coupon whose offer allows no more redemptions (the campaign's or the
customer's limit is spent)."""


class Reason(StrEnum):
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_STORE = "wrong_store"
    BELOW_MINIMUM = "below_minimum"
    CAMPAIGN_LIMIT = "campaign_limit"
    CUSTOMER_LIMIT = "customer_limit"


@dataclass(frozen=True, slots=True)
class Answer:
    """How a refusal is answered: the HTTP status and problem ``code`` with its ``fields`` (the
    data members of the problem body, beside ``code``), the words for a person, and the status a
    customer's listing shows (None: the coupon still reads as usable there, e.g. at another
    store's till)."""

    status: int
    code: str
    title: str
    detail: str
    fields: tuple[str, ...]
    listing: CouponStatus | None


# The campaign's and the customer's limits differ only in the ``limit`` they name.
_LIMIT = Answer(
    422,
    "limit_reached",
    "The redemption limit is reached",
    "No more redemptions are allowed for this offer",
    ("limit",),
    "used_up",
)
_INVALID = "Not a valid code"

ANSWERS: Mapping[Reason, Answer] = MappingProxyType(
    {
        # Unknown, forged, revoked and erased owners' codes: one answer, no enumeration oracle.
        Reason.UNKNOWN: Answer(404, "invalid_code", _INVALID, _INVALID, (), None),
        Reason.REVOKED: Answer(404, "invalid_code", _INVALID, _INVALID, (), "revoked"),
        Reason.REDEEMED: Answer(
            409,
            "already_redeemed",
            "Already redeemed",
            "This coupon was already redeemed",
            ("redeemed_at", "store_id", "store_name"),
            "redeemed",
        ),
        Reason.EXPIRED: Answer(
            410, "expired", "This coupon has expired", "This coupon has expired", ("expired_at",), "expired"
        ),
        Reason.NOT_YET_VALID: Answer(
            422,
            "not_yet_valid",
            "This coupon is not valid yet",
            "This coupon cannot be used yet",
            ("valid_from",),
            "scheduled",
        ),
        Reason.WRONG_STORE: Answer(
            422,
            "wrong_store",
            "Not valid in this store",
            "This offer is valid only in the stores listed",
            ("stores",),
            None,
        ),
        Reason.BELOW_MINIMUM: Answer(
            422,
            "below_minimum",
            "The order is below the offer's minimum",
            "This offer needs an order total of at least its minimum",
            ("min_order_total", "order_total"),
            None,
        ),
        Reason.CAMPAIGN_LIMIT: _LIMIT,
        Reason.CUSTOMER_LIMIT: _LIMIT,
    }
)

BY_CODE: Mapping[str, Answer] = MappingProxyType({answer.code: answer for answer in ANSWERS.values()})
"""The answer of each problem code (reasons that share a code share its answer but the listing)."""


def answer_of(code: str) -> Answer:
    return BY_CODE[code]
