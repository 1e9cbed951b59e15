"""Route guards: every route names the roles that may call it."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from tessera.auth.principal import Principal, Role
from tessera.errors import Forbidden, NotAuthenticated

# An admin may do everything a marketer may.
_IMPLIED: dict[Role, set[Role]] = {"marketer": {"admin"}}


def allow(*roles: Role) -> list[Guard]:
    permitted: set[Role] = set(roles)
    for role in roles:
        permitted |= _IMPLIED.get(role, set())

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        authenticator = connection.app.state.ctx.authenticator
        principal = await authenticator.principal_for(connection.headers.get("authorization"))
        if principal is None:
            raise NotAuthenticated("A valid bearer token is required")
        if principal.role not in permitted:
            raise Forbidden(f"This endpoint is for: {', '.join(sorted(permitted))}")
        connection.state.principal = principal

    return [guard]


def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal: Principal = connection.state.principal
    return principal
