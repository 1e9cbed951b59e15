from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from tessera.customers.schemas import Email, Locale, Phone


class SignInCodeRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Exactly one of ``email`` and ``phone``: the code goes there, by e-mail or by SMS.
    ``locale`` chooses the message's language (else the customer's own)."""

    email: Email | None = None
    phone: Phone | None = None
    locale: Locale | None = None


class SignInCodeSent(msgspec.Struct):
    """The same answer whether or not the e-mail address or phone number is registered."""

    channel: Literal["email", "sms"]
    expires_in_seconds: int
    detail: str


class CustomerLoginInput(msgspec.Struct, forbid_unknown_fields=True):
    """The e-mail address or phone number the code was sent to, and the code (spaces allowed)."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    email: Email | None = None
    phone: Phone | None = None


class CustomerToken(msgspec.Struct):
    token: str
    customer_id: int
