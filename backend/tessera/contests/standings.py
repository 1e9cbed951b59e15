"""The standing order of a points contest, as the live leaderboard shows it (``rules.ranked``):
points descending, then who reached them first, then participant id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.contests.errors import ContestNotFound, NotAPointsContest
from tessera.contests.schemas import Leader, Leaderboard, MyStanding
from tessera.models.contests import Contest, ContestParticipant


def alias_order(session: AsyncSession) -> ColumnElement[str]:
    """Participant ids compared as bytes on both stores (as ``rules.ranked`` compares them)."""
    if session.get_bind().dialect.name == "postgresql":
        return ContestParticipant.alias.collate("C")
    return ContestParticipant.alias.expression


async def rank_of(
    session: AsyncSession, contest_id: int, alias: str, points: int, reached_at: datetime
) -> int:
    """1 + the participants ahead in the standing order (``rules.ranked``)."""
    order = alias_order(session)
    P = ContestParticipant
    ahead = await session.scalar(
        select(func.count())
        .select_from(P)
        .where(
            P.contest_id == contest_id,
            or_(
                P.points > points,
                and_(
                    P.points == points,
                    or_(P.reached_at < reached_at, and_(P.reached_at == reached_at, order < alias)),
                ),
            ),
        )
    )
    return int(ahead or 0) + 1


async def participant_count(session: AsyncSession, contest_id: int) -> int:
    found = await session.scalar(select(func.count()).where(ContestParticipant.contest_id == contest_id))
    return int(found or 0)


async def leaderboard(
    session: AsyncSession, contest_id: int, customer_id: int | None, limit: int
) -> Leaderboard:
    """The first ``limit`` participants in standing order, and the caller's own place."""
    contest = await session.get(Contest, contest_id)
    if contest is None:
        raise ContestNotFound(f"Contest {contest_id} does not exist")
    if contest.kind != "points":
        raise NotAPointsContest
    P = ContestParticipant
    rows = await session.execute(
        select(P.alias, P.points)
        .where(P.contest_id == contest_id)
        .order_by(P.points.desc(), P.reached_at, alias_order(session))
        .limit(limit)
    )
    leaders = [Leader(rank, alias, points) for rank, (alias, points) in enumerate(rows, start=1)]
    me = None
    if customer_id is not None:
        mine = await session.get(P, (contest_id, customer_id))
        if mine is not None:
            rank = await rank_of(session, contest_id, mine.alias, mine.points, mine.reached_at)
            me = MyStanding(rank, mine.alias, mine.points, mine.entries)
    return Leaderboard(contest_id, await participant_count(session, contest_id), leaders, me)
