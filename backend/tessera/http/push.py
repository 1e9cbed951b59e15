from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.push.schemas import SubscriptionInput, SubscriptionView, VapidPublicKey
from tessera.push.services import PushSubscriptions

ENDPOINT = QueryParameter(required=False, max_length=2048, description="Only this subscription")


class VapidController(Controller):
    path = "/api/push"
    tags = ["push"]

    @get(
        "/vapid-public-key",
        summary="The applicationServerKey for subscribing (public)",
        description=(
            "The server's VAPID public key (an uncompressed P-256 point in base64url), to pass as "
            "`applicationServerKey` to the browser's `PushManager.subscribe`. It changes only when "
            "the server's `TESSERA_VAPID_PRIVATE_KEY` does."
        ),
    )
    async def vapid_public_key(self, push: NamedDependency[PushSubscriptions]) -> VapidPublicKey:
        return VapidPublicKey(public_key=push.vapid_public_key)


class PushSubscriptionController(Controller):
    path = "/api/me/push-subscriptions"
    tags = ["push"]
    guards = allow("customer")

    @post("/", status_code=HTTP_201_CREATED, summary="Keep my browser's push subscription (customer)")
    async def subscribe(
        self,
        ctx: Ctx,
        push: NamedDependency[PushSubscriptions],
        principal: Caller,
        data: JSONBody[SubscriptionInput],
    ) -> SubscriptionView:
        """Notifications are sent only while the customer's push consent is on."""
        async with ctx.sessions.begin() as session:
            subscription = await push.subscribe(session, principal.id, data, ctx.clock.now())
            return SubscriptionView(id=subscription.id, endpoint=subscription.endpoint)

    @delete(
        "/",
        status_code=HTTP_204_NO_CONTENT,
        summary="Forget my push subscriptions (customer)",
        description=(
            "Forgets the calling customer's push subscription with this `endpoint`, or all of "
            "them without one: no more notifications go there. 204 also when there was nothing "
            "to forget, so repeating it changes nothing; another customer's subscriptions are "
            "never touched."
        ),
    )
    async def unsubscribe(
        self,
        ctx: Ctx,
        push: NamedDependency[PushSubscriptions],
        principal: Caller,
        endpoint: Annotated[str | None, ENDPOINT] = None,
    ) -> None:
        async with ctx.sessions.begin() as session:
            await push.unsubscribe(session, principal.id, endpoint)
