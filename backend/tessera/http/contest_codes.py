"""Printed contest codes for the marketer: print runs in the background, their progress, the CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.audit.log import record_action
from tessera.contests.codes import ContestCodes
from tessera.contests.errors import CodePoolExhausted, ContestBatchNotFound, ContestNotFound
from tessera.contests.schemas import ContestBatchCreate, ContestBatchView
from tessera.contests.services import ContestService
from tessera.core.schemas import MAX_INT
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.helpers import IDEMPOTENCY_ERRORS, IDEMPOTENCY_KEY, PathId, csv_download, stored_response
from tessera.http.problems import raises
from tessera.idempotency.service import request_hash
from tessera.models.contests import ContestCodeBatch

CSV_HEADER = ["code", "code_display", "qr_payload", "serial", "batch_id", "product", "points"]


def batch_view(batch: ContestCodeBatch) -> ContestBatchView:
    base = f"/api/contests/{batch.contest_id}/codes"
    return ContestBatchView(
        id=batch.id,
        contest_id=batch.contest_id,
        count=batch.count,
        generated=batch.generated,
        product=batch.product,
        points=batch.points,
        status="done" if batch.finished_at else "running",
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        progress_url=f"{base}/batches/{batch.id}",
        export_url=f"{base}?format=csv&batch_id={batch.id}",
    )


class ContestCodeController(Controller):
    path = "/api/contests/{contest_id:int}/codes"
    tags = ["contests"]
    guards = allow("marketer")

    @post(
        "/",
        status_code=202,
        summary="Generate printed contest codes (marketer)",
        opt=raises(ContestNotFound, CodePoolExhausted, *IDEMPOTENCY_ERRORS),
    )
    async def create_batch(
        self,
        ctx: Ctx,
        contests: NamedDependency[ContestService],
        contest_codes: NamedDependency[ContestCodes],
        principal: Caller,
        contest_id: PathId,
        data: JSONBody[ContestBatchCreate],
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    ) -> Response[ContestBatchView]:
        """A print run of one product type, worth ``points`` per code (points contests), written
        in the background; follow ``progress_url``, then download ``export_url``."""
        now = ctx.clock.now()
        created: list[int] = []

        async def effect(session: AsyncSession) -> tuple[int, ContestBatchView]:
            contest = await contests.get(session, contest_id, lock=True)
            batch = await contest_codes.reserve(session, contest, data, now)
            created.append(batch.id)
            await record_action(
                session,
                principal,
                "contest_codes.created",
                "contest",
                contest_id,
                now,
                batch_id=batch.id,
                count=data.count,
            )
            return 202, batch_view(batch)

        answer = await ctx.idempotency.run(
            f"contest-codes:{principal.subject}",
            idempotency_key,
            request_hash("POST", request.url.path, await request.body()),
            effect,
        )
        for batch_id in created:
            contest_codes.generate_in_background(batch_id)
        return stored_response(answer)

    @get(
        "/batches/{batch_id:int}",
        summary="Progress of a contest code batch (marketer)",
        description=(
            "How far the print run is written: `generated` of `count` codes, `status` `running` "
            "until `done`, with the product and points of its codes. A batch stopped with its "
            "process is taken up again. 404 `contest_batch_not_found` for no such batch of this "
            "contest."
        ),
        opt=raises(ContestBatchNotFound),
    )
    async def get_batch(
        self, ctx: Ctx, contest_codes: NamedDependency[ContestCodes], contest_id: PathId, batch_id: PathId
    ) -> ContestBatchView:
        async with ctx.readers() as session:
            return batch_view(await contest_codes.get(session, contest_id, batch_id))

    @get(
        "/",
        summary="Export printed contest codes as CSV (marketer)",
        response_description=(
            "`text/csv` (UTF-8), an attachment `contest-<id>-codes.csv`: the header "
            "`code,code_display,qr_payload,serial,batch_id,product,points`, then one row per code "
            "(of one batch with `batch_id`), `qr_payload` being `TSR1:R:<code>`; an instant win's "
            "rows never say which codes win"
        ),
        media_type="text/csv",
        opt=raises(ContestNotFound),
    )
    async def export(
        self,
        ctx: Ctx,
        contests: NamedDependency[ContestService],
        contest_codes: NamedDependency[ContestCodes],
        contest_id: PathId,
        format: Annotated[Literal["csv"], QueryParameter(name="format")] = "csv",
        batch_id: Annotated[int | None, QueryParameter(name="batch_id", ge=1, le=MAX_INT)] = None,
    ) -> Stream:
        """For the printer: the code, its grouped form and the QR payload, per serial."""
        async with ctx.readers() as session:
            contest = await contests.get(session, contest_id)
        rows = contest_codes.export_rows(contest, batch_id)
        return csv_download(CSV_HEADER, rows, f"contest-{contest_id}-codes.csv")
