from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.audit.log import record_action
from tessera.codes.payloads import InvalidCode
from tessera.contests.draws import ContestDraws
from tessera.contests.entries import ContestEntries
from tessera.contests.errors import (
    CodeAlreadyEntered,
    ConsentRequired,
    ContestNotFound,
    ContestNotOpen,
    ContestStillOpen,
    DrawNotFound,
    EntryLimitReached,
    NotAPointsContest,
    PrizeCampaignCannotIssue,
    PrizeCampaignNotFound,
)
from tessera.contests.schemas import (
    ContestCreate,
    ContestReport,
    ContestView,
    DrawRecord,
    EntryInput,
    EntryView,
    Leaderboard,
)
from tessera.contests.services import ContestService
from tessera.contests.standings import leaderboard
from tessera.core.errors import TooManyRequests
from tessera.core.schemas import Page
from tessera.coupons.issuing import CodeSpaceExhausted
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

MARKETER = allow("marketer")


class ContestController(Controller):
    """Public reads, the marketer's changes and the customers' entries (guards per route: a
    path's methods live in one controller)."""

    path = "/api/contests"
    tags = ["contests"]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        guards=MARKETER,
        summary="Create a contest (marketer)",
        opt=raises(ContestNotOpen, PrizeCampaignNotFound, PrizeCampaignCannotIssue, *IDEMPOTENCY_ERRORS),
    )
    async def create(
        self,
        ctx: Ctx,
        contests: NamedDependency[ContestService],
        principal: Caller,
        data: JSONBody[ContestCreate],
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    ) -> Response[ContestView]:
        """A points collection or an instant win. The seed of the draw is made now; only its
        SHA-256 (``commitment``) is shown until the draw reveals it."""
        now = ctx.clock.now()

        async def effect(session: AsyncSession) -> tuple[int, ContestView]:
            created = await contests.create(session, data, now)
            await record_action(session, principal, "contest.created", "contest", created.id, now)
            return 201, created

        answer = await ctx.idempotency.run(
            f"contests:{principal.subject}",
            idempotency_key,
            request_hash("POST", request.url.path, await request.body()),
            effect,
        )
        return stored_response(answer)

    @get(
        "/{contest_id:int}/report",
        guards=MARKETER,
        summary="A contest's figures (marketer)",
        opt=raises(ContestNotFound),
    )
    async def report(
        self, ctx: Ctx, contests: NamedDependency[ContestService], contest_id: PathId
    ) -> ContestReport:
        """Codes, entries, participants, and for instant wins the winners and budget spent."""
        async with ctx.readers() as session:
            return await contests.report(session, contest_id, ctx.clock.now())

    @post(
        "/{contest_id:int}/close",
        guards=MARKETER,
        status_code=HTTP_200_OK,
        summary="Close a contest's entries (marketer)",
        description=(
            "No entries from now on (`POST …/entries` answers 422 `contest_not_open`); entries "
            "under way finish first. The contest's `status` becomes `closed` and "
            "`entries_closed_at` is set, after which a points contest can be drawn. Closing again "
            "changes nothing and answers the same contest. 404 `contest_not_found` for no such "
            "contest."
        ),
        opt=raises(ContestNotFound),
    )
    async def close(
        self, ctx: Ctx, contests: NamedDependency[ContestService], principal: Caller, contest_id: PathId
    ) -> ContestView:
        now = ctx.clock.now()
        async with ctx.sessions.begin() as session:
            was_open = (await contests.get(session, contest_id, lock=True)).entries_closed_at is None
            closed = await contests.close(session, contest_id, now)
            if was_open:
                await record_action(session, principal, "contest.closed", "contest", contest_id, now)
            return closed

    @post(
        "/{contest_id:int}/draw",
        guards=MARKETER,
        status_code=HTTP_200_OK,
        summary="Draw a points contest's winners (marketer)",
        opt=raises(ContestNotFound, NotAPointsContest, ContestStillOpen, CodeSpaceExhausted),
    )
    async def run_draw(
        self,
        ctx: Ctx,
        contests: NamedDependency[ContestService],
        contest_draws: NamedDependency[ContestDraws],
        principal: Caller,
        contest_id: PathId,
    ) -> DrawRecord:
        """Once entries are closed (or the contest has ended): top places by points, consolation
        prizes drawn with the committed seed, prizes given, the seed revealed. Calling it again
        answers the same record."""
        now = ctx.clock.now()
        async with ctx.sessions.begin() as session:
            undrawn = (await contests.get(session, contest_id, lock=True)).drawn_at is None
            record = await contest_draws.run(session, contest_id, now)
            if undrawn:
                await record_action(
                    session,
                    principal,
                    "contest.drawn",
                    "contest",
                    contest_id,
                    now,
                    winners=len(record.winners),
                )
            return record

    @get(
        "/",
        summary="List contests (public)",
        description=(
            "Every contest, by id, a page at a time: `limit` of them (1-200, default 50), then "
            "the next page with `cursor` set to this page's `next_cursor` (null on the last page). "
            "`status` keeps the contests in that state now; it filters each page after paging, "
            "so a page may hold fewer than `limit` contests, or none, while `next_cursor` still "
            "leads on. A cursor above 2147483647 is 422 `invalid_value`."
        ),
    )
    async def list_contests(
        self,
        ctx: Ctx,
        contests: NamedDependency[ContestService],
        limit: Annotated[int, LIMIT] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, CURSOR] = None,
        status: Annotated[
            Literal["scheduled", "running", "ended", "closed", "drawn"] | None,
            QueryParameter(description="Only contests in this state"),
        ] = None,
    ) -> Page[ContestView]:
        now = ctx.clock.now()
        async with ctx.readers() as session:
            found = await contests.list(session, limit, after_id(cursor))
            views = [await contests.view_of(session, contest, now) for contest in found]
        shown = [view for view in views if status is None or view.status == status]
        return Page(shown, next_cursor([contest.id for contest in found], limit))

    @get(
        "/{contest_id:int}",
        summary="One contest, with the draw's commitment (public)",
        description=(
            "The contest's rules and state: kind, window and time zone (of the per-day limit), "
            "`status` now (`scheduled`, `running`, `ended`, then `closed` once entries are "
            "closed and `drawn` after the draw), limits, prizes, and `commitment`, the SHA-256 of "
            "the draw's seed, fixed at creation; `seed` itself stays null until the draw. 404 "
            "`contest_not_found` for no such contest."
        ),
        opt=raises(ContestNotFound),
    )
    async def get_contest(
        self, ctx: Ctx, contests: NamedDependency[ContestService], contest_id: PathId
    ) -> ContestView:
        async with ctx.readers() as session:
            contest = await contests.get(session, contest_id)
            return await contests.view_of(session, contest, ctx.clock.now())

    @get(
        "/{contest_id:int}/leaderboard",
        summary="Live leaderboard, pseudonymous (public; a customer also sees their own place)",
        opt=raises(ContestNotFound, NotAPointsContest),
    )
    async def get_leaderboard(
        self,
        ctx: Ctx,
        contest_id: PathId,
        request: Request[Any, Any, Any],
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="How many leaders")] = 10,
    ) -> Leaderboard:
        """Ranked by points, then by who reached them first, then by participant id."""
        caller = await ctx.authenticator.principal_for(request.headers.get("authorization"))
        customer_id = caller.id if caller is not None and caller.role == "customer" else None
        async with ctx.readers() as session:
            return await leaderboard(session, contest_id, customer_id, limit)

    @get(
        "/{contest_id:int}/draw",
        summary="The draw's public record: seed, participants, winners (public)",
        opt=raises(ContestNotFound, DrawNotFound),
    )
    async def get_draw(
        self,
        ctx: Ctx,
        contests: NamedDependency[ContestService],
        contest_draws: NamedDependency[ContestDraws],
        contest_id: PathId,
    ) -> DrawRecord:
        """Recompute it with ``scripts/verify_draw.py``."""
        async with ctx.readers() as session:
            contest = await contests.get(session, contest_id)
            return await contest_draws.record(session, contest)

    @post(
        "/{contest_id:int}/entries",
        status_code=HTTP_201_CREATED,
        guards=allow("customer"),
        summary="Enter a printed code (customer)",
        opt=raises(
            ContestNotFound,
            InvalidCode,
            CodeAlreadyEntered,
            ContestNotOpen,
            EntryLimitReached,
            ConsentRequired,
            CodeSpaceExhausted,
            TooManyRequests,
            *IDEMPOTENCY_ERRORS,
        ),
    )
    async def enter(
        self,
        contest_entries: NamedDependency[ContestEntries],
        principal: Caller,
        contest_id: PathId,
        data: JSONBody[EntryInput],
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    ) -> Response[EntryView]:
        """Each code counts once, whoever enters it (409 afterwards). Points contests answer the
        points and the customer's place; instant wins answer ``win`` with the prize, or ``lose``.
        Unknown and forged codes answer 404 and count against a throttle (429)."""
        answer = await contest_entries.submit(
            principal.id,
            contest_id,
            data.code,
            idempotency_key,
            request_hash("POST", request.url.path, await request.body()),
        )
        return stored_response(answer)
