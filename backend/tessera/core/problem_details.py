"""Problem-details bodies (RFC 9457) without HTTP: the type URNs, and which exceptions mean the
database is unavailable. ``tessera.http.problems`` answers requests with them; a streamed
answer that stops part-way (a mail merge) ends with one as its last line."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import InterfaceError as SQLAlchemyInterfaceError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

from tessera.core.errors import DomainError

TYPE_BASE = "urn:tessera:problem:"
log = structlog.get_logger(__name__)


def database_unavailable_error(exc: DBAPIError) -> bool:
    cause = exc.orig.__cause__ if exc.orig is not None else None
    return (
        exc.connection_invalidated
        or isinstance(exc, SQLAlchemyOperationalError | SQLAlchemyInterfaceError)
        or isinstance(cause, unavailable_errors())
    )


def unavailable_errors() -> tuple[type[Exception], ...]:
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
        # a deadlock or serialization failure: the transaction was rolled back whole
        asyncpg.exceptions.TransactionRollbackError,
        ConnectionError,
        TimeoutError,
    )


def problem_body(exc: Exception) -> dict[str, Any]:
    """The problem-details body the map gives ``exc``, for an answer whose status line has gone
    out already: a streamed answer that stops part-way ends with it as its last line."""
    if isinstance(exc, DomainError):
        status, code, title, detail = exc.status, exc.code, exc.title, exc.detail
    elif isinstance(exc, unavailable_errors()) or (
        isinstance(exc, DBAPIError) and database_unavailable_error(exc)
    ):
        log.warning("database_unavailable", error=str(exc).splitlines()[0] if str(exc) else "")
        status, code, title = 503, "service_unavailable", "Service temporarily unavailable"
        detail = "The database is busy or unreachable. Retry shortly."
    else:
        log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
        status, code, title = 500, "internal_error", "Internal Server Error"
        detail = "The server could not complete the request"
    return {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, "code": code}
