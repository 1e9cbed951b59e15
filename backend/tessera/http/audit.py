"""``GET /api/audit``: the audit trail, for admins."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from tessera.audit.log import audit_page
from tessera.audit.schemas import AuditView
from tessera.core.schemas import MAX_INT, Page
from tessera.http.deps import Ctx
from tessera.http.guards import allow
from tessera.http.helpers import CURSOR, DEFAULT_LIMIT, LIMIT, after_id

Word = Annotated[str | None, QueryParameter(min_length=1, max_length=64, pattern=r"^[a-z_.]+$")]


class AuditController(Controller):
    path = "/api/audit"
    tags = ["audit"]
    guards = allow("admin")

    @get(
        "/",
        summary="The audit trail, newest first (admin)",
        description=(
            "Who did what to what, and when: each creation, change, publish, void, draw, "
            "message run and erasure, recorded in the transaction of the action itself (an "
            "action that failed left no entry). `actor_role` (`admin`, `marketer`: an API key; "
            "`staff`; `customer`) with `actor_id`, `action` (`campaign.created`, "
            "`redemption.voided`, …), `subject_type` with `subject_id` filter it; `data` names "
            "the fields a change gave, never their personal values. A page at a time: `limit` "
            "(1-200, default 50), then `cursor` set to `next_cursor` (older entries)."
        ),
    )
    async def audit(
        self,
        ctx: Ctx,
        limit: Annotated[int, LIMIT] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, CURSOR] = None,
        actor_role: Annotated[
            str | None, QueryParameter(pattern=r"^(admin|marketer|staff|customer)$")
        ] = None,
        actor_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_INT)] = None,
        action: Word = None,
        subject_type: Word = None,
        subject_id: Annotated[str | None, QueryParameter(min_length=1, max_length=64)] = None,
    ) -> Page[AuditView]:
        before = after_id(cursor) or None
        async with ctx.readers() as session:
            entries = await audit_page(
                session,
                before_id=before,
                limit=limit,
                actor_role=actor_role,
                actor_id=actor_id,
                action=action,
                subject_type=subject_type,
                subject_id=subject_id,
            )
        next_page = str(entries[-1].id) if len(entries) == limit else None
        return Page([AuditView.of(entry) for entry in entries], next_page)
