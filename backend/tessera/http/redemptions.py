from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.audit.log import record_action
from tessera.auth.principal import Principal
from tessera.core.errors import TooManyRequests
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow, current_principal
from tessera.http.helpers import (
    IDEMPOTENCY_ERRORS,
    IDEMPOTENCY_KEY,
    PathBigId,
    hot_path_post,
    stored_response,
)
from tessera.http.problems import raises
from tessera.idempotency.service import StoredAnswer, check_key, request_hash
from tessera.offers.errors import REFUSAL_ERRORS
from tessera.redemptions.errors import AlreadyVoided, RedemptionNotFound, VoidNotAllowed, error_for
from tessera.redemptions.ledger import IdempotencyClaim
from tessera.redemptions.schemas import RedeemInput, RedemptionView, ValidateInput, ValidationView, VoidView
from tessera.redemptions.services import RedemptionService

# What a presented code can meet, in validation as in redemption: every refusal of the offer
# rules, and the failed-attempt budget.
CODE_ERRORS = (*REFUSAL_ERRORS, TooManyRequests)


REDEEM_PATH = "/api/redemptions"


async def redemption_answer(
    redemptions: RedemptionService,
    principal: Principal,
    data: RedeemInput,
    idempotency_key: str | None,
    body: bytes,
) -> StoredAnswer:
    """The 201 of a redemption, or the domain error of its refusal; ``body`` is the request's
    body as received, which an ``Idempotency-Key`` is bound to."""
    claim = None
    if idempotency_key is not None:
        claim = IdempotencyClaim(
            scope=f"redeem:{principal.subject}",
            key=check_key(idempotency_key),
            request_hash=request_hash("POST", REDEEM_PATH, body),
        )
    outcome = await redemptions.redeem(principal, data, claim)
    if outcome.status != 201:
        raise error_for(outcome.body)
    return StoredAnswer(201, msgspec.json.encode(outcome.body), outcome.replayed)


class RedemptionController(Controller):
    path = REDEEM_PATH
    tags = ["redemptions"]
    guards = allow("staff")

    @hot_path_post(
        "/validate",
        status_code=HTTP_200_OK,
        summary="Check a code without redeeming (staff)",
        opt=raises(*CODE_ERRORS),
    )
    async def validate(
        self,
        redemptions: NamedDependency[RedemptionService],
        principal: Caller,
        data: JSONBody[ValidateInput],
    ) -> ValidationView:
        """What the code is, without redeeming it: the coupon, its campaign, discount, validity
        and the stores where it may be redeemed, for a till to show before it redeems."""
        return await redemptions.validate(principal, data)

    @hot_path_post(
        "/",
        summary="Redeem a code (staff)",
        response_description="The redemption",
        opt=raises(*CODE_ERRORS, *IDEMPOTENCY_ERRORS),
    )
    async def redeem(
        self,
        data: JSONBody[RedeemInput],
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    ) -> Response[RedemptionView]:
        """Exactly once: one conditional write decides; unknown and forged codes get the same
        404; a retry with the same ``Idempotency-Key`` gets the first answer."""
        # Ordinary redemptions are answered before they reach here (``fast_path``); this serves
        # the rest, and documents the operation. It takes no injected dependencies: two of them
        # make Litestar start a task group per request (README, Performance).
        redemptions: RedemptionService = request.app.state.services.redemptions
        answer = await redemption_answer(
            redemptions, current_principal(request), data, idempotency_key, await request.body()
        )
        return stored_response(answer)

    @post(
        "/{redemption_id:int}/void",
        status_code=HTTP_200_OK,
        summary="Void a redemption (staff)",
        opt=raises(RedemptionNotFound, AlreadyVoided, VoidNotAllowed, *IDEMPOTENCY_ERRORS),
    )
    async def void(
        self,
        ctx: Ctx,
        redemptions: NamedDependency[RedemptionService],
        principal: Caller,
        redemption_id: PathBigId,
        idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    ) -> Response[VoidView]:
        """The coupon becomes usable again; the void is a row of its own, never a delete."""

        async def effect(session: AsyncSession) -> tuple[int, VoidView]:
            voided = await redemptions.void(session, principal, redemption_id)
            await record_action(
                session, principal, "redemption.voided", "redemption", redemption_id, ctx.clock.now()
            )
            return 200, voided

        answer = await ctx.idempotency.run(
            f"void:{principal.subject}",
            idempotency_key,
            request_hash("POST", f"/api/redemptions/{redemption_id}/void", b""),
            effect,
        )
        return stored_response(answer)
