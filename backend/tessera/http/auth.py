from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from tessera.auth.services import InvalidCredentials
from tessera.core.errors import TooManyRequests
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.problems import raises
from tessera.stores.schemas import StaffSessionView, StoreView
from tessera.stores.services import StoreService


class StaffLoginInput(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class StaffToken(msgspec.Struct):
    token: str
    expires_at: datetime
    store_id: int
    staff_id: int


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post(
        "/staff/login",
        status_code=HTTP_200_OK,
        summary="Staff login (public)",
        opt=raises(InvalidCredentials, TooManyRequests),
    )
    async def staff_login(self, ctx: Ctx, data: JSONBody[StaffLoginInput]) -> StaffToken:
        """Username and password → an expiring staff token. Failed logins are throttled."""
        now = ctx.clock.now()
        rule = ctx.throttles.login(data.username)
        if await ctx.ledger.throttled(rule, now):
            raise TooManyRequests(rule.retry_after(now), "Too many failed logins; try again later")
        try:
            token, expires_at, store_id, staff_id = await ctx.staff_login.login(data.username, data.password)
        except InvalidCredentials:
            await ctx.ledger.record_failure(rule, now)
            raise
        return StaffToken(token=token, expires_at=expires_at, store_id=store_id, staff_id=staff_id)

    @get(
        "/staff/me",
        guards=allow("staff"),
        summary="Who holds this staff token, and their store (staff)",
        description=(
            "The account behind the token: its id, username, whether it may void redemptions "
            "(`can_void`) and its store, with the scanner's settings (`auto_redeem`: redeem right "
            "after a good read) and the store's time zone. Changes nothing."
        ),
    )
    async def staff_me(
        self, ctx: Ctx, stores: NamedDependency[StoreService], principal: Caller
    ) -> StaffSessionView:
        async with ctx.readers() as session:
            user, store = await stores.staff_session(session, principal.id)
        return StaffSessionView(user.id, user.username, user.can_void, StoreView.of(store))

    @post(
        "/staff/logout",
        status_code=HTTP_204_NO_CONTENT,
        guards=allow("staff"),
        summary="Staff logout (staff)",
        description=(
            "Revokes the staff token this request carries; the account's other tokens stay valid. "
            "From then on the token gets 401 `not_authenticated` (in other server processes "
            "within 10 s, the time they keep a verified token), so logging out twice answers 401 "
            "the second time."
        ),
    )
    async def staff_logout(self, ctx: Ctx, principal: Caller, request: Request[Any, Any, Any]) -> None:
        if principal.session_id is not None:
            await ctx.staff_login.logout(principal.session_id)
        ctx.authenticator.forget(request.headers.get("authorization", "").partition(" ")[2].strip())
