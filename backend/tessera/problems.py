"""The one map from exceptions to RFC 9457 problem-details responses."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import InterfaceError as SQLAlchemyInterfaceError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

from tessera.errors import DomainError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:tessera:problem:"
log = structlog.get_logger(__name__)

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
) -> Response[dict[str, Any]]:
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
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    return problem(
        exc.status, exc.code, exc.title, exc.detail, exc.data, exc.headers or None, request.url.path
    )


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    return problem(
        400,
        "invalid_input",
        "The request is not valid",
        exc.detail or "Validation failed",
        {"errors": errors} if errors else None,
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
    cause = exc.orig.__cause__ if exc.orig is not None else None
    if (
        exc.connection_invalidated
        or isinstance(exc, SQLAlchemyOperationalError | SQLAlchemyInterfaceError)
        or isinstance(cause, _unavailable_errors())
    ):
        return _database_unavailable(request, exc)
    return _unexpected(request, exc)


def _unavailable_errors() -> tuple[type[Exception], ...]:
    import sqlite3

    import asyncpg

    return (
        sqlite3.OperationalError,
        asyncpg.exceptions.PostgresConnectionError,
        asyncpg.exceptions.InterfaceError,
        # admin shutdown, "cannot connect now", statement timeout
        asyncpg.exceptions.OperatorInterventionError,
        # disk full, out of memory, too many connections
        asyncpg.exceptions.InsufficientResourcesError,
        ConnectionError,
        TimeoutError,
    )


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
    handlers.update(dict.fromkeys(_unavailable_errors(), _database_unavailable))
    return handlers


__all__ = ["PROBLEM_JSON", "MediaType", "exception_handlers", "problem"]
