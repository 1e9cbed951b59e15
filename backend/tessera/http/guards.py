"""Route guards: every route names the roles that may call it."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from tessera.auth.principal import Principal, Role
from tessera.core.errors import Forbidden, NotAuthenticated

# An admin may do everything a marketer may.
_IMPLIED: dict[Role, set[Role]] = {"marketer": {"admin"}}


class RoleGuard:
    """Lets a request through with a valid bearer token of a permitted role; ``raises`` names
    its answers otherwise, for the OpenAPI document."""

    raises = (NotAuthenticated, Forbidden)

    def __init__(self, permitted: set[Role]) -> None:
        self.permitted = permitted

    def check(self, principal: Principal | None) -> Principal:
        """``principal`` if it may pass; raises the refusal otherwise."""
        if principal is None:
            raise NotAuthenticated("A valid bearer token is required")
        if principal.role not in self.permitted:
            raise Forbidden(f"This endpoint is for: {', '.join(sorted(self.permitted))}")
        return principal

    async def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        authenticator = connection.app.state.ctx.authenticator
        principal = self.check(await authenticator.principal_for(_authorization(connection)))
        connection.scope["state"][_PRINCIPAL] = principal


# Read from the ASGI scope itself: ``connection.headers`` and ``connection.state`` build a new
# object on every access, a measurable share of a redemption's CPU (README, Performance).
_PRINCIPAL = "principal"


def _authorization(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    for name, value in connection.scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


def allow(*roles: Role) -> list[Guard]:
    permitted: set[Role] = set(roles)
    for role in roles:
        permitted |= _IMPLIED.get(role, set())
    return [RoleGuard(permitted)]


def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal: Principal = connection.scope["state"][_PRINCIPAL]
    return principal
