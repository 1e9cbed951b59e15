from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.audit.log import record_action
from tessera.campaigns.publish_schemas import AudienceView, PublishJobView, job_view
from tessera.campaigns.publishing import PublishJobNotFound
from tessera.campaigns.services import CampaignEnded, CampaignNotFound, CampaignService
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.helpers import IDEMPOTENCY_ERRORS, IDEMPOTENCY_KEY, PathId, stored_response
from tessera.http.problems import raises
from tessera.idempotency.service import request_hash


class PublishController(Controller):
    path = "/api/campaigns/{campaign_id:int}"
    tags = ["campaigns"]
    guards = allow("marketer")

    @post(
        "/publish",
        status_code=202,
        summary="Publish: issue coupons to the segment, in the background (marketer)",
        opt=raises(CampaignNotFound, CampaignEnded, *IDEMPOTENCY_ERRORS),
    )
    async def publish(
        self,
        ctx: Ctx,
        campaigns: NamedDependency[CampaignService],
        principal: Caller,
        campaign_id: PathId,
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    ) -> Response[PublishJobView]:
        """Publishes the campaign and starts a job that issues one coupon to every customer of
        its audience (see ``/audience``) who has none yet; follow ``progress_url`` until
        ``status`` is ``done``. While a job runs, publishing again answers that job; afterwards
        a new job issues only to customers who have no coupon yet (usually none: customers who
        register or consent later get theirs then). A triggered campaign is only switched on:
        its job is ``done`` at once with nothing issued, and the worker issues when the trigger
        fires."""
        now = ctx.clock.now()
        async with ctx.readers() as session:
            campaign = await campaigns.get(session, campaign_id)
        # Counted before the write transaction: on SQLite it would hold the write lock.
        counted = (0, 0) if campaign.trigger_kind else await ctx.publishing.audience(campaign)
        started: list[int] = []

        async def effect(session: AsyncSession) -> tuple[int, PublishJobView]:
            campaign = await campaigns.get(session, campaign_id, lock=True)
            if now >= campaign.ends_at:
                raise CampaignEnded(f"Campaign {campaign_id} ended at {campaign.ends_at.isoformat()}")
            if campaign.published_at is None:
                campaign.published_at = now
            job, new = await ctx.publishing.start(session, campaign, counted, now)
            if new:
                started.append(job.id)
                await record_action(
                    session, principal, "campaign.published", "campaign", campaign_id, now, job_id=job.id
                )
            return 202, job_view(job)

        answer = await ctx.idempotency.run(
            f"publish:{principal.subject}",
            idempotency_key,
            request_hash("POST", request.url.path, b""),
            effect,
        )
        for job_id in started:
            ctx.publishing.run_in_background(job_id)
        return stored_response(answer)

    @get(
        "/publish-jobs/{job_id:int}",
        summary="Progress of a publish job (marketer)",
        description=(
            "Where the job stands: `status` `running`, then `done`, or `failed` with `error` "
            "(`code_space_exhausted`, `campaign_ended` or `limit_reached`) when it had to stop "
            "short. `eligible` is the audience without the coupon when the job started, `issued` "
            "what it has issued so far, `already_had` who held the coupon already. A job stopped "
            "with its process is taken up again by the worker. 404 `publish_job_not_found` for "
            "no such job of this campaign."
        ),
        opt=raises(PublishJobNotFound),
    )
    async def get_job(self, ctx: Ctx, campaign_id: PathId, job_id: PathId) -> PublishJobView:
        async with ctx.readers() as session:
            return job_view(await ctx.publishing.get(session, campaign_id, job_id))

    @get(
        "/audience",
        summary="How many customers a publish would reach now (marketer)",
        opt=raises(CampaignNotFound),
    )
    async def audience(
        self, ctx: Ctx, campaigns: NamedDependency[CampaignService], campaign_id: PathId
    ) -> AudienceView:
        """``count``: customers with marketing consent, not erased, in the campaign's segment
        (any of ``tags_any``, every attribute equal), who do not hold this campaign's coupon from
        publishing or registration yet; personal (mail-merge) coupons and code lists do not
        count as holding it. This is what a publish started now would issue, whatever the
        campaign's window (publishing an ended campaign is refused). 0 for a triggered
        campaign: publishing it issues nothing."""
        async with ctx.readers() as session:
            campaign = await campaigns.get(session, campaign_id)
        if campaign.trigger_kind is not None:
            return AudienceView(0)
        to_reach, _ = await ctx.publishing.audience(campaign)
        return AudienceView(to_reach)
