"""Redemption answers by code: the offer refusals (``tessera.offers``) and the ledgers' own."""

from __future__ import annotations

from typing import Any

from tessera.core.errors import Conflict, DomainError, Forbidden, NotFound, TooManyRequests
from tessera.idempotency.service import IdempotencyKeyReused, RequestInProgress
from tessera.offers.errors import refusal_error


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"
    title = "No such redemption"


class AlreadyVoided(Conflict):
    code = "already_voided"
    title = "This redemption was already voided"


class VoidNotAllowed(Forbidden):
    code = "void_not_allowed"
    title = "This account may not void redemptions"


_LEDGER_ERRORS: dict[str, type[DomainError]] = {
    error.code: error for error in (IdempotencyKeyReused, RequestInProgress)
}


def error_for(body: dict[str, Any]) -> DomainError:
    """The domain error for a ledger's ``{"code": …, **data}`` answer."""
    refusal = refusal_error(body)
    if refusal is not None:
        return refusal
    data = dict(body)
    code = str(data.pop("code"))
    if code == "too_many_attempts":
        return TooManyRequests(int(data["retry_after"]))
    error_type = _LEDGER_ERRORS.get(code)
    if error_type is None:
        raise ValueError(f"unknown ledger answer {code!r}")
    return error_type(**data)
