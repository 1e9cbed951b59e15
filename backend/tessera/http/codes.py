from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.audit.log import record_action
from tessera.campaigns.services import CampaignNotFound, CampaignService
from tessera.codes.bulk import BatchNotFound
from tessera.codes.schemas import CodeBatchCreate, CodeBatchView
from tessera.core.errors import Unprocessable
from tessera.core.schemas import MAX_INT
from tessera.coupons.issuing import CodeSpaceExhausted
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.helpers import IDEMPOTENCY_ERRORS, IDEMPOTENCY_KEY, PathId, csv_download, stored_response
from tessera.http.problems import raises
from tessera.idempotency.service import request_hash
from tessera.models.codes import CodeBatch
from tessera.triggers.rules import CampaignTriggered

CSV_HEADER = ["code", "serial", "batch_id", "channel", "expires_at", "redeemed"]


def batch_view(batch: CodeBatch) -> CodeBatchView:
    base = f"/api/campaigns/{batch.campaign_id}/codes"
    return CodeBatchView(
        id=batch.id,
        campaign_id=batch.campaign_id,
        count=batch.count,
        generated=batch.generated,
        channel=batch.channel,
        status="done" if batch.finished_at else "running",
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        expires_at=batch.expires_at,
        progress_url=f"{base}/batches/{batch.id}",
        export_url=f"{base}?format=csv&batch_id={batch.id}",
    )


class CodeController(Controller):
    path = "/api/campaigns/{campaign_id:int}/codes"
    tags = ["codes"]
    guards = allow("marketer")

    @post(
        "/",
        status_code=202,
        summary="Generate unassigned single-use codes (marketer)",
        opt=raises(
            CampaignNotFound, Unprocessable, CampaignTriggered, CodeSpaceExhausted, *IDEMPOTENCY_ERRORS
        ),
    )
    async def create_batch(
        self,
        ctx: Ctx,
        campaigns: NamedDependency[CampaignService],
        principal: Caller,
        campaign_id: PathId,
        data: JSONBody[CodeBatchCreate],
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    ) -> Response[CodeBatchView]:
        """Codes for print, SMS or e-mail lists, written in the background; follow
        ``progress_url``, then download ``export_url``. Up to 1,000,000 per batch."""
        now = ctx.clock.now()
        created: list[int] = []

        async def effect(session: AsyncSession) -> tuple[int, CodeBatchView]:
            campaign = await campaigns.get(session, campaign_id, lock=True)
            batch = await ctx.bulk_codes.reserve(session, campaign, data.count, data.channel, now)
            created.append(batch.id)
            await record_action(
                session,
                principal,
                "code_batch.created",
                "campaign",
                campaign_id,
                now,
                batch_id=batch.id,
                count=data.count,
                channel=data.channel,
            )
            return 202, batch_view(batch)

        answer = await ctx.idempotency.run(
            f"codes:{principal.subject}",
            idempotency_key,
            request_hash("POST", request.url.path, await request.body()),
            effect,
        )
        for batch_id in created:
            ctx.bulk_codes.generate_in_background(batch_id)
        return stored_response(answer)

    @get(
        "/batches/{batch_id:int}",
        summary="Progress of a code batch (marketer)",
        description=(
            "How far the batch is written: `generated` of `count` codes, `status` `running` "
            "until `done`. The codes written so far can be exported already (`export_url`); a "
            "batch stopped with its process is taken up again. 404 `code_batch_not_found` for no "
            "such batch of this campaign."
        ),
        opt=raises(BatchNotFound),
    )
    async def get_batch(self, ctx: Ctx, campaign_id: PathId, batch_id: PathId) -> CodeBatchView:
        async with ctx.readers() as session:
            return batch_view(await ctx.bulk_codes.get(session, campaign_id, batch_id))

    @get(
        "/",
        summary="Export unassigned codes as CSV (marketer)",
        response_description=(
            "`text/csv` (UTF-8), an attachment `campaign-<id>-codes.csv`: the header "
            "`code,serial,batch_id,channel,expires_at,redeemed`, then one row per unassigned code "
            "(of one batch with `batch_id`), in serial order; `redeemed` is `redeemed` or empty"
        ),
        media_type="text/csv",
        opt=raises(CampaignNotFound),
    )
    async def export(
        self,
        ctx: Ctx,
        campaigns: NamedDependency[CampaignService],
        campaign_id: PathId,
        format: Annotated[Literal["csv"], QueryParameter(name="format")] = "csv",
        batch_id: Annotated[int | None, QueryParameter(name="batch_id", ge=1, le=MAX_INT)] = None,
    ) -> Stream:
        """Streamed in serial order, a page at a time: a million codes never sit in memory."""
        async with ctx.readers() as session:
            campaign = await campaigns.get(session, campaign_id)

        rows = ctx.bulk_codes.export_rows(campaign, batch_id)
        return csv_download(CSV_HEADER, rows, f"campaign-{campaign_id}-codes.csv")
