from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.audit.log import changed_fields, record_action
from tessera.campaigns.keywords import KeywordTaken
from tessera.campaigns.schemas import (
    CampaignCreate,
    CampaignUpdate,
    CampaignView,
    PersonalCouponCreate,
)
from tessera.campaigns.services import (
    CampaignEnded,
    CampaignLocked,
    CampaignNotFound,
    CampaignService,
    CustomerNotEligible,
    view,
)
from tessera.campaigns.slugs import SlugTaken
from tessera.core.errors import Unprocessable
from tessera.core.schemas import Page
from tessera.coupons.issuing import CodeSpaceExhausted
from tessera.coupons.schemas import CouponView
from tessera.coupons.services import CouponService
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.helpers import (
    CURSOR,
    DEFAULT_LIMIT,
    IDEMPOTENCY_ERRORS,
    IDEMPOTENCY_KEY,
    LIMIT,
    PathId,
    after_id,
    next_cursor,
    stored_response,
)
from tessera.http.problems import raises
from tessera.idempotency.service import request_hash
from tessera.triggers.rules import TriggerCampaignNotFound, TriggerCycle, TriggerNotAllowed

TRIGGER_ERRORS = (TriggerCampaignNotFound, TriggerCycle, TriggerNotAllowed)


class CampaignController(Controller):
    path = "/api/campaigns"
    tags = ["campaigns"]
    guards = allow("marketer")

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Create a campaign (marketer)",
        opt=raises(Unprocessable, SlugTaken, KeywordTaken, *TRIGGER_ERRORS, *IDEMPOTENCY_ERRORS),
    )
    async def create(
        self,
        ctx: Ctx,
        campaigns: NamedDependency[CampaignService],
        principal: Caller,
        data: JSONBody[CampaignCreate],
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    ) -> Response[CampaignView]:
        """A draft campaign: its discount (``percent`` 1-100, ``amount`` in minor units, or
        ``free_item``), when it runs, its code format, limits, audience segment and wallet design.
        Nothing is issued until it is published (``POST …/publish``); a campaign with a trigger
        issues when the trigger fires."""
        now = ctx.clock.now()

        async def effect(session: AsyncSession) -> tuple[int, object]:
            campaign = await campaigns.create(session, data, now)
            await record_action(session, principal, "campaign.created", "campaign", campaign.id, now)
            return 201, view(campaign, now)

        answer = await ctx.idempotency.run(
            f"campaigns:{principal.subject}",
            idempotency_key,
            request_hash("POST", request.url.path, await request.body()),
            effect,
        )
        return stored_response(answer)

    @get(
        "/",
        summary="List campaigns (marketer)",
        description=(
            "Every campaign, by id, a page at a time: `limit` of them (1-200, default 50), then "
            "the next page with `cursor` set to this page's `next_cursor` (null on the last page; "
            "a full last page is followed by an empty one). Each is shown as `GET "
            "/api/campaigns/{campaign_id}` shows it. A cursor above 2147483647 is 422 "
            "`invalid_value`."
        ),
    )
    async def list_campaigns(
        self,
        ctx: Ctx,
        campaigns: NamedDependency[CampaignService],
        limit: Annotated[int, LIMIT] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, CURSOR] = None,
    ) -> Page[CampaignView]:
        now = ctx.clock.now()
        async with ctx.readers() as session:
            found = await campaigns.list(session, limit, after_id(cursor))
        return Page([view(c, now) for c in found], next_cursor([c.id for c in found], limit))

    @get(
        "/{campaign_id:int}",
        summary="One campaign (marketer)",
        description=(
            "The campaign as created and changed, with what follows from it: `slug` (given or "
            "made from the name), `status` now (`draft` until published, then `scheduled`, "
            "`running` or `ended` by its window), `published_at`, `redemption_count` (counted "
            "once the campaign has a `max_redemptions`, else null) and the wallet design with "
            "`has_logo` in place of the image. 404 `campaign_not_found` for no such campaign."
        ),
        opt=raises(CampaignNotFound),
    )
    async def get_campaign(
        self, ctx: Ctx, campaigns: NamedDependency[CampaignService], campaign_id: PathId
    ) -> CampaignView:
        async with ctx.readers() as session:
            return view(await campaigns.get(session, campaign_id), ctx.clock.now())

    @patch(
        "/{campaign_id:int}",
        summary="Change a campaign (marketer)",
        opt=raises(CampaignNotFound, CampaignLocked, SlugTaken, KeywordTaken, *TRIGGER_ERRORS),
    )
    async def update(
        self,
        ctx: Ctx,
        campaigns: NamedDependency[CampaignService],
        principal: Caller,
        campaign_id: PathId,
        data: JSONBody[CampaignUpdate],
    ) -> CampaignView:
        """Discount, start and how the campaign is issued (publish or which trigger) are fixed
        once published; adding a limit counts past redemptions. A new ``slug`` takes effect for
        the next mail merge (409 when another campaign has it)."""
        now = ctx.clock.now()
        async with ctx.sessions.begin() as session:
            campaign = await campaigns.update(session, campaign_id, data, now)
            await record_action(
                session,
                principal,
                "campaign.changed",
                "campaign",
                campaign_id,
                now,
                fields=changed_fields(data),
            )
            return view(campaign, now)

    @post(
        "/{campaign_id:int}/coupons",
        status_code=HTTP_201_CREATED,
        summary="Issue one personal coupon for one message (marketer)",
        opt=raises(
            CampaignNotFound, CampaignEnded, CustomerNotEligible, CodeSpaceExhausted, *IDEMPOTENCY_ERRORS
        ),
    )
    async def issue_personal(
        self,
        ctx: Ctx,
        campaigns: NamedDependency[CampaignService],
        coupons: NamedDependency[CouponService],
        principal: Caller,
        campaign_id: PathId,
        data: JSONBody[PersonalCouponCreate],
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    ) -> Response[CouponView]:
        """A fresh code for one e-mail/SMS; ``message_id`` (or the Idempotency-Key) makes it
        one code per message however often it is asked for."""
        now = ctx.clock.now()

        async def effect(session: AsyncSession) -> tuple[int, object]:
            coupon_id = await campaigns.issue_personal(session, campaign_id, data, now)
            return 201, await coupons.view_for_marketer(session, coupon_id, now)

        answer = await ctx.idempotency.run(
            f"coupons:{principal.subject}",
            idempotency_key,
            request_hash("POST", request.url.path, await request.body()),
            effect,
        )
        return stored_response(answer)
