"""The problems of the offer rules: one error class per problem code, each taking its status
and title from the refusal table, and the error for any ledger answer."""

from __future__ import annotations

from typing import Any

from tessera.codes.payloads import InvalidCode
from tessera.core.errors import DomainError
from tessera.offers.refusals import BY_CODE


class Refused(DomainError):
    def __init_subclass__(cls, *, code: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        answer = BY_CODE[code]
        cls.status, cls.code, cls.title = answer.status, answer.code, answer.title


class AlreadyRedeemed(Refused, code="already_redeemed"):
    pass


class CouponExpired(Refused, code="expired"):
    pass


class NotYetValid(Refused, code="not_yet_valid"):
    pass


class WrongStore(Refused, code="wrong_store"):
    """``stores``: where the offer is valid, ``[{id, name}]``."""


class BelowMinimum(Refused, code="below_minimum"):
    """``order_total`` None: the till gave no order total, which this offer needs."""


class LimitReached(Refused, code="limit_reached"):
    """``limit``: ``campaign`` (its redemptions are spent) or ``customer`` (the owner's are)."""


REFUSAL_ERRORS: tuple[type[DomainError], ...] = (
    InvalidCode,
    AlreadyRedeemed,
    CouponExpired,
    NotYetValid,
    WrongStore,
    BelowMinimum,
    LimitReached,
)
_BY_CODE: dict[str, type[DomainError]] = {error.code: error for error in REFUSAL_ERRORS}


def refusal_error(body: dict[str, Any]) -> DomainError | None:
    """The error for a refusal's ``{"code": …, **data}``; None for a code that is no refusal."""
    data = dict(body)
    code = str(data.pop("code"))
    error_type = _BY_CODE.get(code)
    if error_type is None:
        return None
    if error_type is InvalidCode:
        return InvalidCode()
    return error_type(BY_CODE[code].detail, **data)
