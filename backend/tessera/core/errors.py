"""Domain errors: each carries an HTTP status, a stable machine ``code`` and optional data.

``tessera.http.problems`` maps every one of them to an RFC 9457 problem-details response.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ConfigurationError(RuntimeError):
    """Settings that must not be used to start the service."""


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, **data: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.data = data
        self.headers: dict[str, str] = {}


class InvalidInput(DomainError):
    """The request does not match the API document: undecodable, a wrong type, a missing or
    unknown field or query parameter, too deep, a malformed header."""

    status = 400
    code = "invalid_input"
    title = "The request is not valid"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    title = "Authentication required"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Not allowed for this role"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class PayloadTooLarge(DomainError):
    """Answered for a request body over the size limit, before any handler runs."""

    status = 413
    code = "payload_too_large"
    title = "Request body too large"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"
    title = "The request cannot be carried out"


class InvalidValue(Unprocessable):
    """The request matches the API document but a rule the document cannot state refuses it
    (an unknown time zone, ends_at before starts_at, a store that does not exist). Rendered like
    ``InvalidInput``: ``errors`` names the field with ``field=`` (and ``source=`` when not the body)."""

    code = "invalid_value"
    title = "A value breaks a rule"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_attempts"
    title = "Too many attempts"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail or "Too many failed attempts; try again later", retry_after=retry_after)
        self.headers["Retry-After"] = str(max(1, retry_after))


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    title = "Service temporarily unavailable"
