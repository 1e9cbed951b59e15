"""``POST /api/mail-merges``: rendered messages with per-message codes, streamed as NDJSON, or
sent by Tessera (``deliver: true``) from a background job whose progress ``GET
/api/mail-merges/{id}`` shows."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated, Any

import msgspec
import structlog
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.audit.log import record_action
from tessera.auth.principal import Principal
from tessera.http.context import AppContext
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.helpers import IDEMPOTENCY_ERRORS, IDEMPOTENCY_KEY, PathId, closing_stream, stored_response
from tessera.http.problems import raises
from tessera.idempotency.service import request_hash
from tessera.mailmerge.job_schemas import MailMergeJobView
from tessera.mailmerge.jobs import MailMergeNotFound, MergeJobs, MessageIdInUse
from tessera.mailmerge.schemas import MailMergeCreate, MergeLine
from tessera.mailmerge.services import MailMerges, MergePlan, Tally, UnknownCampaign
from tessera.mailmerge.templates import InvalidTemplate

NDJSON = "application/x-ndjson"
# 100,000 recipients given by e-mail address fit in well under this.
MAX_BODY = 8 * 1024 * 1024
log = structlog.get_logger("tessera.mailmerge")

STREAM_DESCRIPTION = (
    "One JSON document per line (`schema` describes one line), a line per recipient in the order "
    "given (`type` `message`, or `problem` with a problem document for a recipient who gets no "
    "message), then one last line: `end` with the counts, or `error` with a problem document "
    "when the work stopped part-way (the lines before it stand; asking again continues with the "
    "same codes). An answer without either last line was cut short."
)


DELIVER_DESCRIPTION = (
    "`deliver: true`: the merge is sent by Tessera from a background job. The answer is the "
    "job's progress view (as at `progress_url`): for a new `message_id` a new job, for one "
    "asked before with the same request that job, with nothing queued again."
)


class MailMergeController(Controller):
    path = "/api/mail-merges"
    tags = ["mail merges"]
    guards = allow("marketer")

    @post(
        "/",
        status_code=200,
        media_type=NDJSON,
        request_max_body_size=MAX_BODY,
        summary="Mail merge: each recipient's message with its own personal codes, streamed (marketer)",
        responses={
            200: ResponseSpec(
                data_container=MergeLine,
                media_type=NDJSON,
                description=STREAM_DESCRIPTION,
                generate_examples=False,
            ),
            202: ResponseSpec(
                data_container=MailMergeJobView,
                description=DELIVER_DESCRIPTION,
                generate_examples=False,
            ),
        },
        opt=raises(InvalidTemplate, UnknownCampaign, MessageIdInUse, *IDEMPOTENCY_ERRORS),
    )
    async def merge(
        self,
        ctx: Ctx,
        mail_merges: NamedDependency[MailMerges],
        mail_merge_jobs: NamedDependency[MergeJobs],
        principal: Caller,
        data: JSONBody[MailMergeCreate],
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    ) -> Response[Any]:
        """Renders the template for every recipient with a code of each campaign it names, one
        code per (campaign, recipient, ``message_id``) however often asked: a repeated request
        streams the same codes and issues nothing new. Problems of the request itself (template,
        slugs, recipients, key) are answered before anything is issued or streamed. With an
        ``Idempotency-Key``, the same key with another body is refused and a repeat while the
        first still streams gets 409; a repeat after it ended streams the answer again
        (``Idempotent-Replayed: true``). With ``deliver: true`` Tessera sends the messages
        itself: 202 with the job's progress view (see ``GET /api/mail-merges/{merge_id}``); the
        same ``message_id`` asked again answers the same job and sends nothing new, with
        another request 409 ``message_id_in_use``."""
        async with ctx.readers() as session:
            plan = await mail_merges.plan(session, data)
        scope = f"mail-merges:{principal.subject}"
        if data.deliver:
            return await self._deliver(
                ctx, mail_merge_jobs, principal, data, plan, scope, request, idempotency_key
            )
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        reserved = None
        if idempotency_key is not None:
            fingerprint = request_hash("POST", request.url.path, await request.body())
            if await ctx.idempotency.reserve(scope, idempotency_key, fingerprint) is None:
                reserved = idempotency_key
            else:
                headers["Idempotent-Replayed"] = "true"
        answer = self._answer(ctx, mail_merges, plan, scope, reserved)
        return closing_stream(answer, media_type=NDJSON, headers=headers)

    @get(
        "/{merge_id:int}",
        summary="Progress of a mail merge that is sent (marketer)",
        description=(
            "Where a merge asked with `deliver: true` stands: `status` `running` while recipients "
            "are worked through or messages wait to be sent, then `done` (or `failed` with "
            "`error` when the job had to stop short); `processed` of `recipients`, `messages` "
            "queued, `problems` (recipients who get nothing, by problem code), coupons `issued`, "
            "and `delivery`: messages `queued`, `sent` and `failed`, the most frequent reasons "
            "of failures in `failed_reasons`. A job stopped with its process is taken up again "
            "by the worker. 404 `mail_merge_not_found` for no such merge."
        ),
        opt=raises(MailMergeNotFound),
    )
    async def progress(
        self, ctx: Ctx, mail_merge_jobs: NamedDependency[MergeJobs], merge_id: PathId
    ) -> MailMergeJobView:
        async with ctx.readers() as session:
            return await mail_merge_jobs.view(session, await mail_merge_jobs.get(session, merge_id))

    @staticmethod
    async def _deliver(
        ctx: AppContext,
        jobs: MergeJobs,
        principal: Principal,
        data: MailMergeCreate,
        plan: MergePlan,
        scope: str,
        request: Request[Any, Any, Any],
        idempotency_key: str | None,
    ) -> Response[Any]:
        started: list[int] = []
        now = ctx.clock.now()

        async def effect(session: AsyncSession) -> tuple[int, MailMergeJobView]:
            job, new = await jobs.start(session, data, plan, now)
            if new:
                started.append(job.id)
                await record_action(
                    session,
                    principal,
                    "mail_merge.sent",
                    "mail_merge",
                    job.id,
                    now,
                    channel=data.channel,
                    recipients=len(data.recipients),
                )
            return 202, await jobs.view(session, job)

        fingerprint = request_hash("POST", request.url.path, await request.body())
        answer = await ctx.idempotency.run(scope, idempotency_key, fingerprint, effect)
        for job_id in started:
            jobs.run_in_background(job_id)
        return stored_response(answer)

    @staticmethod
    async def _answer(
        ctx: AppContext, mail_merges: MailMerges, plan: MergePlan, scope: str, key: str | None
    ) -> AsyncGenerator[bytes, None]:
        """The lines; a reserved key is completed when the answer is whole, released otherwise
        (a stopped stream, a dropped client), so a retry runs at once."""
        tally = Tally()
        try:
            async with aclosing(mail_merges.lines(plan, tally)) as answer:
                async for lines in answer:
                    yield lines
        finally:
            await MailMergeController._settle(ctx, scope, key, tally)

    @staticmethod
    async def _settle(ctx: AppContext, scope: str, key: str | None, tally: Tally) -> None:
        if key is None:
            return
        try:
            if tally.end is not None:
                await ctx.idempotency.complete(scope, key, 200, msgspec.json.encode(tally.end))
            else:
                await ctx.idempotency.release(scope, key)
        except Exception as error:  # the key's reservation runs out by itself
            log.warning("idempotency_key_not_updated", error=type(error).__name__)
