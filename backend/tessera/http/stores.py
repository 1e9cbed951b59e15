from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from tessera.audit.log import changed_fields, record_action
from tessera.core.schemas import MAX_INT
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.helpers import PathId
from tessera.http.problems import raises
from tessera.stores.schemas import StaffCreate, StaffUpdate, StaffView, StoreCreate, StoreUpdate, StoreView
from tessera.stores.services import StaffNotFound, StoreNotFound, StoreService, UsernameTaken


class StoreController(Controller):
    path = "/api"
    tags = ["stores"]
    guards = allow("marketer")

    @post(
        "/stores",
        status_code=HTTP_201_CREATED,
        summary="Create a store (marketer)",
        description=(
            "A store, where staff redeem. `timezone` is an IANA name (default `UTC`; an unknown "
            "one is 422 `invalid_value`). `location` puts the store on Apple passes: up to ten "
            "located stores go into each pass, which then shows on the lock screen nearby. "
            "`auto_redeem: true` makes its scanners redeem right after a good read instead of "
            "asking first. Not idempotent: each call creates a store."
        ),
    )
    async def create_store(
        self, ctx: Ctx, stores: NamedDependency[StoreService], principal: Caller, data: JSONBody[StoreCreate]
    ) -> StoreView:
        now = ctx.clock.now()
        async with ctx.sessions.begin() as session:
            store = await stores.create_store(session, data, now)
            await record_action(session, principal, "store.created", "store", store.id, now)
            return StoreView.of(store)

    @patch(
        "/stores/{store_id:int}",
        summary="Change a store or its scanner settings (marketer)",
        description=(
            "Changes the fields given and keeps the others; `location: null` removes the "
            "location. The same rules as at creation (an unknown time zone is 422 "
            "`invalid_value`); 404 `store_not_found` for no such store. Sending the same change "
            "again changes nothing more."
        ),
        opt=raises(StoreNotFound),
    )
    async def update_store(
        self,
        ctx: Ctx,
        stores: NamedDependency[StoreService],
        principal: Caller,
        store_id: PathId,
        data: JSONBody[StoreUpdate],
    ) -> StoreView:
        async with ctx.sessions.begin() as session:
            store = await stores.update_store(session, store_id, data)
            await record_action(
                session,
                principal,
                "store.changed",
                "store",
                store_id,
                ctx.clock.now(),
                fields=changed_fields(data),
            )
            return StoreView.of(store)

    @get(
        "/stores",
        summary="List stores (marketer)",
        description="Every store, by id (at most 1,000), with its time zone, location and scanner settings.",
    )
    async def list_stores(self, ctx: Ctx, stores: NamedDependency[StoreService]) -> list[StoreView]:
        async with ctx.readers() as session:
            return [StoreView.of(store) for store in await stores.list_stores(session)]

    @post(
        "/staff",
        status_code=HTTP_201_CREATED,
        summary="Create a staff account (marketer)",
        description=(
            "A staff account of one store, which signs in at the till with `POST "
            "/api/auth/staff/login`. The password is kept only as a hash. `can_void` (default "
            "true) lets the account void redemptions. A username already taken is 409 "
            "`username_taken`; a store that does not exist is 404 `store_not_found`."
        ),
        opt=raises(StoreNotFound, UsernameTaken),
    )
    async def create_staff(
        self, ctx: Ctx, stores: NamedDependency[StoreService], principal: Caller, data: JSONBody[StaffCreate]
    ) -> StaffView:
        now = ctx.clock.now()
        async with ctx.sessions.begin() as session:
            user = await stores.create_staff(session, data, now)
            await record_action(
                session, principal, "staff.created", "staff", user.id, now, store_id=data.store_id
            )
            return StaffView.of(user)

    @get(
        "/staff",
        summary="List staff accounts (marketer)",
        description=(
            "Every staff account by id (at most 5,000), or those of one store with `store_id`, "
            "with its store, voiding right and whether it is disabled. Passwords are never shown."
        ),
    )
    async def list_staff(
        self,
        ctx: Ctx,
        stores: NamedDependency[StoreService],
        store_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_INT)] = None,
    ) -> list[StaffView]:
        async with ctx.readers() as session:
            return [StaffView.of(user) for user in await stores.list_staff(session, store_id)]

    @patch(
        "/staff/{staff_id:int}",
        summary="Reset a password, move, change or disable a staff account (marketer)",
        description=(
            "Changes the fields given. A new `password`, another `store_id`, another `can_void` "
            "or `disabled: true` (a leaver) ends every session of the account: its tokens are "
            "refused from this answer on (401; another server process may accept one for up to "
            "10 seconds, its token cache), and a disabled account cannot sign in. "
            "`disabled: false` lets it sign in again. 404 `staff_not_found`; a store that does "
            "not exist is 404 `store_not_found`."
        ),
        opt=raises(StaffNotFound, StoreNotFound),
    )
    async def update_staff(
        self,
        ctx: Ctx,
        stores: NamedDependency[StoreService],
        principal: Caller,
        staff_id: PathId,
        data: JSONBody[StaffUpdate],
    ) -> StaffView:
        now = ctx.clock.now()
        async with ctx.sessions.begin() as session:
            user, revoked = await stores.update_staff(session, staff_id, data, now)
            # Which fields, never the password itself.
            await record_action(
                session, principal, "staff.changed", "staff", staff_id, now, fields=changed_fields(data)
            )
            view = StaffView.of(user)
        if revoked:
            ctx.authenticator.forget_subject("staff", staff_id)
        return view
