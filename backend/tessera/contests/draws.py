"""The draw of a points contest: once, in one transaction, auditable by commit and reveal.

The contest row is locked (entries under way hold it shared, so they finish first and later ones
find entries closed), the participant list is frozen as it stands, the winners are computed by
``rules.draw`` from the seed committed to at creation, prizes are given, and the seed is revealed
with the list's digest. A second call finds the draw made and answers the same record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.codes.keys import CodeKeys
from tessera.contests.errors import ContestStillOpen, DrawNotFound, NotAPointsContest
from tessera.contests.notices import queue_prize_notices
from tessera.contests.prizes import prize_coupons
from tessera.contests.rules import DRAW_ALGORITHM, Standing, draw, draw_time, participants_digest, ranked
from tessera.contests.schemas import DrawParticipant, DrawPrize, DrawRecord, DrawWinner
from tessera.contests.services import ContestService
from tessera.events.log import event_row, record, record_many
from tessera.models.contests import Contest, ContestParticipant, ContestPrize, ContestWinner


class ContestDraws:
    def __init__(self, contests: ContestService, code_keys: CodeKeys) -> None:
        self._contests = contests
        self._code_keys = code_keys

    async def run(self, session: AsyncSession, contest_id: int, now: datetime) -> DrawRecord:
        """Close entries if the contest has ended, draw, give the prizes; idempotent."""
        contest = await self._contests.get(session, contest_id, lock=True)
        if contest.kind != "points":
            raise NotAPointsContest
        if contest.drawn_at is None:
            await self._draw(session, contest, now)
        return await self.record(session, contest)

    async def _draw(self, session: AsyncSession, contest: Contest, now: datetime) -> None:
        if contest.entries_closed_at is None:
            if now < contest.ends_at:
                raise ContestStillOpen("Close entries first, or wait for the end of the contest")
            contest.entries_closed_at = now
            await record(session, "contest_closed", now, data={"contest_id": contest.id})
        standings, customer_of = await self._standings(session, contest.id)
        prizes = await self._contests.prizes(session, contest.id)
        tiers = {
            "top": [p for p in prizes if p.tier == "top"],
            "consolation": [p for p in prizes if p.tier == "consolation"],
        }
        seed = self._contests.keys.seed(contest.id, contest.seed_nonce)
        awards = draw(
            seed, standings, [p.count for p in tiers["top"]], [p.count for p in tiers["consolation"]]
        )
        winners: list[tuple[ContestWinner, ContestPrize]] = []
        for award in awards:
            prize = tiers[award.tier][award.position]
            winner = ContestWinner(
                contest_id=contest.id,
                customer_id=customer_of[award.participant],
                alias=award.participant,
                tier=award.tier,
                place=award.place,
                prize_id=prize.id,
                coupon_id=None,
                awarded_at=now,
            )
            session.add(winner)
            prize.won += 1
            winners.append((winner, prize))
        await session.flush()
        for prize in prizes:
            theirs = [winner for winner, won in winners if won.id == prize.id]
            coupons = await prize_coupons(
                session,
                self._code_keys,
                prize,
                [winner.customer_id for winner in theirs],
                origin=f"contest:{contest.id}",
                now=now,
            )
            for winner in theirs:
                winner.coupon_id = coupons.get(winner.customer_id)
        await queue_prize_notices(session, contest.id, winners, now)
        contest.drawn_at = now
        contest.updated_at = now
        contest.participants_digest = participants_digest(standings)
        await session.flush()
        await record_many(
            session,
            [
                *(
                    event_row(
                        "contest_prize",
                        now,
                        customer_id=winner.customer_id,
                        campaign_id=prize.campaign_id,
                        data={
                            "contest_id": contest.id,
                            "tier": winner.tier,
                            "place": winner.place,
                            "prize_id": prize.id,
                            "value": prize.value,
                            "coupon_id": winner.coupon_id,
                        },
                    )
                    for winner, prize in winners
                ),
                event_row(
                    "contest_drawn",
                    now,
                    quantity=len(standings),
                    data={"contest_id": contest.id, "participants_digest": contest.participants_digest},
                ),
            ],
        )

    @staticmethod
    async def _standings(session: AsyncSession, contest_id: int) -> tuple[list[Standing], dict[str, int]]:
        rows = (
            await session.execute(
                select(
                    ContestParticipant.alias,
                    ContestParticipant.points,
                    ContestParticipant.reached_at,
                    ContestParticipant.customer_id,
                ).where(ContestParticipant.contest_id == contest_id)
            )
        ).all()
        standings = [Standing(alias, points, reached_at) for alias, points, reached_at, _ in rows]
        return standings, {alias: customer_id for alias, _, _, customer_id in rows}

    async def record(self, session: AsyncSession, contest: Contest) -> DrawRecord:
        """The public record: the revealed seed, the frozen list and the winners."""
        if contest.drawn_at is None or contest.entries_closed_at is None or contest.kind != "points":
            raise DrawNotFound(f"Contest {contest.id} has not been drawn")
        standings, _ = await self._standings(session, contest.id)
        prizes = await self._contests.prizes(session, contest.id)
        names = {prize.id: prize.name for prize in prizes}
        winners = await session.scalars(
            select(ContestWinner)
            .where(ContestWinner.contest_id == contest.id)
            .order_by(ContestWinner.tier.desc(), ContestWinner.place)  # top, then consolation
        )
        return DrawRecord(
            contest_id=contest.id,
            algorithm=DRAW_ALGORITHM,
            commitment=contest.commitment,
            seed=self._contests.seed_hex(contest),
            entries_closed_at=contest.entries_closed_at,
            drawn_at=contest.drawn_at,
            participants_digest=contest.participants_digest or "",
            participants=[
                DrawParticipant(s.id, s.points, draw_time(s.reached_at)) for s in ranked(standings)
            ],
            top=[DrawPrize(p.name, p.count, p.value) for p in prizes if p.tier == "top"],
            consolation=[DrawPrize(p.name, p.count, p.value) for p in prizes if p.tier == "consolation"],
            winners=[DrawWinner(w.alias, w.tier, w.place, names[w.prize_id]) for w in winners],  # type: ignore[arg-type]
        )
