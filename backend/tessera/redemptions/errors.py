"""Redemption answers by code; the ledgers return codes, these give them status and words."""

from __future__ import annotations

from typing import Any

from tessera.codes.payloads import InvalidCode
from tessera.errors import Conflict, DomainError, Forbidden, NotFound, TooManyRequests, Unprocessable
from tessera.idempotency.service import IdempotencyKeyReused, RequestInProgress


class AlreadyRedeemed(Conflict):
    code = "already_redeemed"
    title = "Already redeemed"


class CouponExpired(DomainError):
    status = 410
    code = "expired"
    title = "This coupon has expired"


class NotYetValid(Unprocessable):
    code = "not_yet_valid"
    title = "This coupon is not valid yet"


class LimitReached(Unprocessable):
    code = "limit_reached"
    title = "The redemption limit is reached"


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"
    title = "No such redemption"


class AlreadyVoided(Conflict):
    code = "already_voided"
    title = "This redemption was already voided"


class VoidNotAllowed(Forbidden):
    code = "void_not_allowed"
    title = "This account may not void redemptions"


_BY_CODE: dict[str, type[DomainError]] = {
    error.code: error
    for error in (
        AlreadyRedeemed,
        CouponExpired,
        NotYetValid,
        LimitReached,
        IdempotencyKeyReused,
        RequestInProgress,
    )
}
_DETAILS = {
    "already_redeemed": "This coupon was already redeemed",
    "expired": "This coupon has expired",
    "not_yet_valid": "This coupon cannot be used yet",
    "limit_reached": "No more redemptions are allowed for this offer",
}


def error_for(body: dict[str, Any]) -> DomainError:
    """The domain error for a ledger's ``{"code": …, **data}`` answer."""
    data = dict(body)
    code = str(data.pop("code"))
    if code == "invalid_code":
        return InvalidCode()
    if code == "too_many_attempts":
        return TooManyRequests(int(data["retry_after"]))
    error_type = _BY_CODE.get(code)
    if error_type is None:
        raise ValueError(f"unknown ledger answer {code!r}")
    return error_type(_DETAILS.get(code, error_type.title), **data)
