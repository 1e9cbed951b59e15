"""``POST /api/mail-merges``: rendered messages with per-message codes, streamed as NDJSON."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated, Any

import msgspec
import structlog
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody
from litestar.response import Stream

from tessera.http.context import AppContext
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.helpers import IDEMPOTENCY_ERRORS, IDEMPOTENCY_KEY, closing_stream
from tessera.http.problems import raises
from tessera.idempotency.service import request_hash
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
            )
        },
        opt=raises(InvalidTemplate, UnknownCampaign, *IDEMPOTENCY_ERRORS),
    )
    async def merge(
        self,
        ctx: Ctx,
        mail_merges: NamedDependency[MailMerges],
        principal: Caller,
        data: JSONBody[MailMergeCreate],
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    ) -> Stream:
        """Renders the template for every recipient with a code of each campaign it names, one
        code per (campaign, recipient, ``message_id``) however often asked: a repeated request
        streams the same codes and issues nothing new. Problems of the request itself (template,
        slugs, recipients, key) are answered before anything is issued or streamed. With an
        ``Idempotency-Key``, the same key with another body is refused and a repeat while the
        first still streams gets 409; a repeat after it ended streams the answer again
        (``Idempotent-Replayed: true``)."""
        async with ctx.readers() as session:
            plan = await mail_merges.plan(session, data)
        scope = f"mail-merges:{principal.subject}"
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
