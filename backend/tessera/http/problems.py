"""The one map from exceptions to RFC 9457 problem-details responses, and their documentation.

``document_problems`` declares in the OpenAPI document the problem answers of every route: the
ones its guards, parameters and body imply, plus the domain errors it names with ``raises``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from http import HTTPStatus
from typing import Any, Literal

import msgspec
import structlog
from litestar import Litestar, MediaType, Request, Response
from litestar.constants import RESERVED_KWARGS
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.routes import HTTPRoute
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError

from tessera.core.errors import (
    DomainError,
    InvalidInput,
    InvalidValue,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from tessera.core.problem_details import TYPE_BASE, database_unavailable_error, unavailable_errors

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "problems"  # the key of a route's ``opt`` that names its domain errors
log = structlog.get_logger(__name__)


class Problem(msgspec.Struct):
    """The body of every error answer. Some codes add members of their own: ``errors`` for
    invalid input, ``redeemed_at`` and ``store_id`` for an already redeemed coupon, …"""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None


Location = Literal["body", "query", "path", "header", "cookie"]


class FieldError(msgspec.Struct, omit_defaults=True):
    """One reason a request is not valid: what is wrong, and where when it is one field
    (``key`` as a dotted path such as ``discount.value`` or ``recipients[0]``)."""

    message: str
    key: str | None = None
    source: Location | None = None


class InvalidInputProblem(Problem):
    """The body of every 400 answer (the request does not match the document) and of a 422
    ``invalid_value`` (it matches, but a rule refuses a value): the problem, with one entry per
    reason in ``errors``."""

    errors: list[FieldError] = msgspec.field(default_factory=list)


_HTTP_CODES = {
    400: "invalid_input",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    field_errors: bool = False,
) -> Response[dict[str, Any]]:
    """The problem-details answer. Every 400, and every answer with ``field_errors`` (a refused
    value, ``InvalidValue``), lists its reasons in ``errors``."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    if status == 400 or field_errors:
        body["errors"] = _field_errors(body, detail)
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_errors(body: dict[str, Any], detail: str) -> list[dict[str, str]]:
    """Every 400 answer and every refused value (422 ``invalid_value``) has the one
    validation-error shape: ``errors`` lists what is wrong.
    A domain error names its field with ``field`` (and ``source`` when not the body)."""
    if errors := body.get("errors"):
        return list(errors)
    field, source = body.pop("field", None), body.pop("source", "body")
    return [{"message": detail, "key": field, "source": source} if field else {"message": detail}]


def _domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    return problem(
        exc.status,
        exc.code,
        exc.title,
        exc.detail,
        exc.data,
        exc.headers or None,
        request.url.path,
        field_errors=isinstance(exc, InvalidValue),
    )


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    return problem(
        400,
        "invalid_input",
        "The request is not valid",
        exc.detail or "Validation failed",
        {"errors": errors},
        instance=request.url.path,
    )


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status >= 500:
        log.error("http_error", path=request.url.path, status=status, detail=exc.detail)
    code = _HTTP_CODES.get(status, "http_error" if status < 500 else "internal_error")
    title = HTTPStatus(status).phrase
    detail = exc.detail if status < 500 else "The server could not complete the request"
    return problem(status, code, title, detail, headers=exc.headers or None, instance=request.url.path)


def _database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.warning("database_unavailable", path=request.url.path, error=str(exc).splitlines()[0])
    return problem(
        503,
        "service_unavailable",
        "Service temporarily unavailable",
        "The database is busy or unreachable; nothing was changed. Retry shortly.",
        headers={"Retry-After": "1"},
        instance=request.url.path,
    )


def _database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    """SQLAlchemy wraps every driver error alike: a lost or refused connection, a server going
    down or out of disk is the database being unavailable (the transaction did not commit); any
    other error is a fault of ours."""
    if database_unavailable_error(exc):
        return _database_unavailable(request, exc)
    return _unexpected(request, exc)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return problem(
        500,
        "internal_error",
        "Internal Server Error",
        "The server could not complete the request",
        instance=request.url.path,
    )


def exception_handlers() -> ExceptionHandlersMap:
    handlers: ExceptionHandlersMap = {
        DomainError: _domain,
        ValidationException: _validation,
        NotAuthorizedException: _http,
        PermissionDeniedException: _http,
        HTTPException: _http,
        DBAPIError: _database_error,
        Exception: _unexpected,
    }
    # The raw drivers of the hot paths (stdlib sqlite3, asyncpg) raise their own errors.
    handlers.update(dict.fromkeys(unavailable_errors(), _database_unavailable))
    return handlers


@cache
def _handlers() -> ExceptionHandlersMap:
    return exception_handlers()


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """The answer the map gives ``exc``, for a request answered outside the framework's own
    exception handling (the redemption fast path). ``Exception`` is in the map, so some class
    of ``exc``'s MRO always is."""
    handlers = _handlers()
    handler = next(handlers[kind] for kind in type(exc).__mro__ if kind in handlers)
    answer: Response[dict[str, Any]] = handler(request, exc)
    return answer


def raises(*errors: type[DomainError]) -> dict[str, Any]:
    """A route's ``opt``: the domain errors it answers with, for its OpenAPI responses."""
    return {PROBLEMS: errors}


def document_problems(app: Litestar) -> None:
    """Give every route's OpenAPI operation a problem-details response per status it can answer
    with, naming the codes. Responses a route declares itself take precedence."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            codes: dict[int, set[str]] = {}
            for error in (*_implied(route, handler), *handler.opt.get(PROBLEMS, ())):
                codes.setdefault(error.status, set()).add(error.code)
            documented = {status: _problem_response(status, codes[status]) for status in sorted(codes)}
            handler.responses = {**documented, **(handler.responses or {})}


def _implied(route: HTTPRoute, handler: HTTPRouteHandler) -> Iterator[type[DomainError]]:
    """The problems any route answers with, given its guards, parameters and body."""
    yield ServiceUnavailable
    for guard in handler.resolve_guards():
        yield from getattr(guard, "raises", ())
    if route.path_parameters:
        yield NotFound
    if _reads_parameters(handler):
        # Input that does not match the document, and input that does but breaks a rule the
        # document cannot state (the rules are checked in the services).
        yield InvalidInput
        yield InvalidValue
    if "data" in handler.parsed_fn_signature.parameters:
        yield PayloadTooLarge


def _reads_parameters(handler: HTTPRouteHandler) -> bool:
    """Whether the route or one of its dependencies takes a request parameter or body."""
    dependencies = handler.resolve_dependencies()
    signatures = [handler.parsed_fn_signature.parameters]
    signatures += [
        dependencies[name].parsed_fn_signature.parameters
        for name in handler.parsed_fn_signature.parameters
        if name in dependencies
    ]
    return any(
        name not in dependencies and (name == "data" or name not in RESERVED_KWARGS)
        for parameters in signatures
        for name in parameters
    )


def _problem_response(status: int, codes: Iterable[str]) -> ResponseSpec:
    listed = [f"`{code}`" for code in sorted(codes)]
    alternatives = listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} or {listed[-1]}"
    return ResponseSpec(
        data_container=InvalidInputProblem if status in (400, 422) else Problem,
        media_type=PROBLEM_JSON,
        description=f"{HTTPStatus(status).phrase}: problem details with code {alternatives}",
        generate_examples=False,
    )


__all__ = [
    "PROBLEM_JSON",
    "FieldError",
    "InvalidInputProblem",
    "MediaType",
    "Problem",
    "document_problems",
    "exception_handlers",
    "problem",
    "problem_response",
    "raises",
]
