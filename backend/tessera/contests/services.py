"""Creating, listing, closing and reporting contests."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.contests.errors import (
    ContestNotFound,
    ContestNotOpen,
    PrizeCampaignCannotIssue,
    PrizeCampaignNotFound,
)
from tessera.contests.keys import ContestKeys
from tessera.contests.rules import status_of
from tessera.contests.schemas import (
    ContestCreate,
    ContestLimits,
    ContestReport,
    ContestView,
    Kind,
    PrizeFigures,
    PrizeInput,
    PrizeView,
)
from tessera.core.clock import representable_in_utc
from tessera.core.errors import InvalidInput, InvalidValue
from tessera.core.settings import CodeSettings
from tessera.events.log import record
from tessera.models.campaigns import Campaign
from tessera.models.contests import (
    Contest,
    ContestCode,
    ContestCounter,
    ContestEntry,
    ContestParticipant,
    ContestPrize,
)
from tessera.offers.state import cannot_issue


def view(contest: Contest, prizes: Sequence[ContestPrize], now: datetime, seed: str | None) -> ContestView:
    base = f"/api/contests/{contest.id}"
    points = contest.kind == "points"
    return ContestView(
        id=contest.id,
        kind=cast(Kind, contest.kind),
        name=contest.name,
        description=contest.description,
        starts_at=contest.starts_at,
        ends_at=contest.ends_at,
        timezone=contest.timezone,
        status=status_of(
            contest.starts_at, contest.ends_at, contest.entries_closed_at, contest.drawn_at, now
        ),
        limits=ContestLimits(
            contest.per_customer_limit, contest.per_day_limit, contest.prizes_per_customer_limit
        ),
        currency=contest.currency,
        prizes=[PrizeView(p.tier, p.name, p.count, p.value, p.campaign_id) for p in prizes],  # type: ignore[arg-type]
        pool_size=contest.pool_size,
        commitment=contest.commitment,
        seed=seed if contest.drawn_at is not None else None,
        entries_closed_at=contest.entries_closed_at,
        drawn_at=contest.drawn_at,
        leaderboard_url=f"{base}/leaderboard" if points else None,
        draw_url=f"{base}/draw" if points and contest.drawn_at is not None else None,
    )


def _check_window(data: ContestCreate, now: datetime) -> None:
    for field, moment in (("starts_at", data.starts_at), ("ends_at", data.ends_at)):
        if moment.tzinfo is None:
            raise InvalidInput("Times need a UTC offset (RFC 3339)", field=field)
        if not representable_in_utc(moment):
            raise InvalidValue("The time is out of range in UTC", field=field)
    if data.ends_at <= data.starts_at:
        raise InvalidValue("ends_at must be after starts_at", field="ends_at")
    if data.ends_at <= now:
        raise ContestNotOpen("The contest would have ended already", contest_status="ended")


def _check_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise InvalidValue("Unknown time zone", field="timezone") from error


def _check_kind(data: ContestCreate) -> None:
    if data.kind == "points":
        for field in ("pool_size", "max_winners", "budget"):
            if getattr(data, field) is not None:
                raise InvalidValue(f"{field} applies to instant wins only", field=field)
        if data.limits.prizes_per_customer is not None:
            # A draw gives each participant one prize at most.
            raise InvalidValue(
                "limits.prizes_per_customer applies to instant wins only", field="limits.prizes_per_customer"
            )
        return
    if data.consolation:
        raise InvalidValue("Instant wins have no consolation draw", field="consolation")
    if not data.prizes:
        raise InvalidValue("An instant win needs at least one prize", field="prizes")
    if data.pool_size is None:
        raise InvalidValue("An instant win needs pool_size, the number of codes", field="pool_size")
    if sum(prize.count for prize in data.prizes) > data.pool_size:
        raise InvalidValue("More winning codes than codes in the pool", field="prizes")


class ContestService:
    def __init__(self, keys: ContestKeys, codes: CodeSettings) -> None:
        self.keys = keys
        self._codes = codes

    async def get(self, session: AsyncSession, contest_id: int, *, lock: bool = False) -> Contest:
        statement = select(Contest).where(Contest.id == contest_id)
        if lock:
            statement = statement.with_for_update()
        contest = await session.scalar(statement)
        if contest is None:
            raise ContestNotFound(f"Contest {contest_id} does not exist")
        return contest

    async def prizes(self, session: AsyncSession, contest_id: int) -> list[ContestPrize]:
        found = await session.scalars(
            select(ContestPrize)
            .where(ContestPrize.contest_id == contest_id)
            .order_by(ContestPrize.tier.desc(), ContestPrize.position)  # top, instant, consolation
        )
        return list(found)

    def seed_hex(self, contest: Contest) -> str:
        return self.keys.seed(contest.id, contest.seed_nonce).hex()

    async def view_of(self, session: AsyncSession, contest: Contest, now: datetime) -> ContestView:
        return view(contest, await self.prizes(session, contest.id), now, self.seed_hex(contest))

    async def create(self, session: AsyncSession, data: ContestCreate, now: datetime) -> ContestView:
        """A contest and its prizes; the seed's commitment is fixed (and public) from here on."""
        _check_window(data, now)
        _check_time_zone(data.timezone)
        _check_kind(data)
        await self._check_campaigns(session, [*data.prizes, *data.consolation], now)
        nonce = secrets.token_bytes(16)
        contest = Contest(
            kind=data.kind,
            name=data.name,
            description=data.description,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            timezone=data.timezone,
            code_length=data.code_length or self._codes.random_length,
            per_customer_limit=data.limits.per_customer,
            per_day_limit=data.limits.per_day,
            prizes_per_customer_limit=data.limits.prizes_per_customer,
            currency=data.currency,
            pool_size=data.pool_size,
            next_serial=0,
            seed_nonce=nonce,
            commitment="",
            created_at=now,
            updated_at=now,
        )
        session.add(contest)
        await session.flush()
        contest.commitment = self.keys.commitment(contest.id, nonce)
        tiers = [
            ("instant" if data.kind == "instant_win" else "top", data.prizes),
            ("consolation", data.consolation),
        ]
        for tier, prizes in tiers:
            for position, prize in enumerate(prizes):
                session.add(
                    ContestPrize(
                        contest_id=contest.id,
                        tier=tier,
                        position=position,
                        name=prize.name,
                        count=prize.count,
                        value=prize.value,
                        campaign_id=prize.campaign_id,
                        won=0,
                    )
                )
        if data.kind == "instant_win":
            winners = sum(prize.count for prize in data.prizes)
            session.add(
                ContestCounter(
                    contest_id=contest.id,
                    max_winners=min(winners, data.max_winners or winners),
                    budget=data.budget,
                    wins=0,
                    spent=0,
                )
            )
        await session.flush()
        return await self.view_of(session, contest, now)

    async def _check_campaigns(
        self, session: AsyncSession, prizes: Sequence[PrizeInput], now: datetime
    ) -> None:
        """Each prize's campaign exists and can issue coupons someone could use."""
        wanted = {prize.campaign_id for prize in prizes if prize.campaign_id is not None}
        if not wanted:
            return
        found = {c.id: c for c in await session.scalars(select(Campaign).where(Campaign.id.in_(wanted)))}
        if missing := wanted - set(found):
            raise PrizeCampaignNotFound(campaign_id=min(missing))
        for campaign_id in sorted(wanted):
            reason = cannot_issue(found[campaign_id], now)
            if reason is not None:
                raise PrizeCampaignCannotIssue(
                    f"Campaign {campaign_id} cannot issue prizes: {reason}",
                    campaign_id=campaign_id,
                    reason=reason,
                )

    async def list(self, session: AsyncSession, limit: int, after_id: int) -> list[Contest]:
        found = await session.scalars(
            select(Contest).where(Contest.id > after_id).order_by(Contest.id).limit(limit)
        )
        return list(found)

    async def close(self, session: AsyncSession, contest_id: int, now: datetime) -> ContestView:
        """No entries from now on (repeating it changes nothing). The contest row's lock waits
        for the submissions under way, which hold it shared."""
        contest = await self.get(session, contest_id, lock=True)
        if contest.entries_closed_at is None:
            contest.entries_closed_at = now
            contest.updated_at = now
            await record(session, "contest_closed", now, data={"contest_id": contest.id})
            await session.flush()
        return await self.view_of(session, contest, now)

    async def report(self, session: AsyncSession, contest_id: int, now: datetime) -> ContestReport:
        contest = await self.get(session, contest_id)
        prizes = await self.prizes(session, contest.id)

        async def count(column: object, where: object) -> int:
            return int(await session.scalar(select(func.count(column)).where(where)) or 0)  # type: ignore[arg-type]

        counter = await session.get(ContestCounter, contest.id)
        return ContestReport(
            contest=view(contest, prizes, now, self.seed_hex(contest)),
            codes=await count(ContestCode.id, ContestCode.contest_id == contest.id),
            entries=await count(ContestEntry.id, ContestEntry.contest_id == contest.id),
            participants=await count(
                ContestParticipant.customer_id, ContestParticipant.contest_id == contest.id
            ),
            wins=counter.wins if counter else 0,
            spent=counter.spent if counter else 0,
            max_winners=counter.max_winners if counter else None,
            budget=counter.budget if counter else None,
            prizes=[PrizeFigures(p.tier, p.name, p.count, p.value, p.won) for p in prizes],
        )
