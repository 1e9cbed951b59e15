"""Entering a printed code, decided in one transaction.

The transaction: the contest row shared-locked (closing and the draw wait for entries under way),
then ``UPDATE contest_codes … WHERE digest = ? AND submitted_at IS NULL RETURNING`` (a code is
entered once, whoever races for it), the participant's counters by one conditional upsert (the
per-customer and per-day limits), for an instant win the conditional counters of its caps, the
entry row (unique per code), the prize, and the ``contest_entry`` event. Any refusal rolls all
of it back, so a code refused for a limit can still be entered later.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final, Literal

import structlog
from sqlalchemy import ColumnElement, and_, case, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import InvalidCode, parse
from tessera.contests.errors import (
    CodeAlreadyEntered,
    ConsentRequired,
    ContestNotFound,
    ContestNotOpen,
    EntryLimitReached,
)
from tessera.contests.keys import ContestKeys
from tessera.contests.prizes import prize_coupons
from tessera.contests.rules import instant_prize, local_day, status_of
from tessera.contests.schemas import EntryView, PrizeWon
from tessera.contests.standings import participant_count, rank_of
from tessera.core.clock import Clock
from tessera.core.errors import TooManyRequests
from tessera.core.settings import ThrottleSettings
from tessera.events.log import record
from tessera.idempotency.service import IdempotencyStore, StoredAnswer
from tessera.models.campaigns import Campaign
from tessera.models.contests import (
    Contest,
    ContestCode,
    ContestCodeBatch,
    ContestCounter,
    ContestEntry,
    ContestParticipant,
    ContestPrize,
)
from tessera.models.customers import Customer
from tessera.offers.state import cannot_issue
from tessera.redemptions.ledger import RedemptionLedger, ThrottleRule

log = structlog.get_logger(__name__)
# The medium an entry made by SMS records: the code was typed into a text message.
SMS_MEDIUM: Final = "sms"


class _NoPrize(Exception):
    """A winning code met a cap that is spent: it loses."""


class ContestEntries:
    def __init__(
        self,
        *,
        keys: ContestKeys,
        code_keys: CodeKeys,
        ledger: RedemptionLedger,
        idempotency: IdempotencyStore,
        throttles: ThrottleSettings,
        clock: Clock,
    ) -> None:
        self._code_keys = code_keys
        self._ledger = ledger
        self._idempotency = idempotency
        self._throttles = throttles
        self._clock = clock
        self._keys = keys

    def throttle(self, customer_id: int, *contest_ids: int) -> ThrottleRule:
        """Codes that are not valid count against the customer and the contest (all customers
        together), like failed scans against the staff account and all scans. A code sent by
        SMS names no contest: it counts against each contest it may have been meant for."""
        throttle = self._throttles
        return ThrottleRule(
            (
                (f"entries:customer:{customer_id}", throttle.failed_entries_per_customer),
                *(
                    (f"entries:contest:{contest_id}", throttle.failed_entries_per_contest)
                    for contest_id in contest_ids
                ),
            ),
            throttle.window_seconds,
        )

    def digest(self, code: str) -> bytes:
        """The stored digest of a printed code (any contest's: digests are unique)."""
        return self._keys.digest(code)

    async def submit(
        self, customer_id: int, contest_id: int, code: str, key: str | None, fingerprint: bytes
    ) -> StoredAnswer:
        """Enter ``code`` (typed, or the printed QR's payload). Unknown and forged codes get the
        same 404 and count against the throttle, which answers 429 once spent."""
        now = self._clock.now()
        rule = self.throttle(customer_id, contest_id)
        if await self._ledger.throttled(rule, now):
            raise TooManyRequests(
                rule.retry_after(now), "Too many codes that were not valid; try again later"
            )
        try:
            presented = parse(code)
            if presented.format != "random":
                raise InvalidCode
            digest = self._keys.digest(presented.code)

            async def effect(session: AsyncSession) -> tuple[int, EntryView]:
                return 201, await self.enter(
                    session, customer_id, contest_id, digest, presented.medium, now, channel="pwa"
                )

            return await self._idempotency.run(f"contest-entries:{customer_id}", key, fingerprint, effect)
        except InvalidCode:
            await self._ledger.record_failure(rule, now)
            raise

    async def enter(
        self,
        session: AsyncSession,
        customer_id: int,
        contest_id: int,
        digest: bytes,
        medium: str,
        now: datetime,
        *,
        channel: str,
    ) -> EntryView:
        """Enter the code of ``digest`` in the caller's transaction (``submit`` and the SMS
        channel): the rules above, or the refusal, after which the caller rolls back.
        ``channel`` is where the entry came from (``pwa``, ``sms``), for the analytics."""
        contest = await session.scalar(
            select(Contest).where(Contest.id == contest_id).with_for_update(read=True)
        )
        if contest is None:
            raise ContestNotFound(f"Contest {contest_id} does not exist")
        state = status_of(
            contest.starts_at, contest.ends_at, contest.entries_closed_at, contest.drawn_at, now
        )
        if state != "running":
            raise ContestNotOpen(f"This contest is {state}", contest_status=state)
        customer = await session.get(Customer, customer_id)
        if customer is None or customer.erased_at is not None or not customer.marketing_consent:
            raise ConsentRequired("Agree to receive offers to take part in contests")
        claimed = (
            await session.execute(
                update(ContestCode)
                .where(
                    ContestCode.code_digest == digest,
                    ContestCode.contest_id == contest.id,
                    ContestCode.submitted_at.is_(None),
                )
                .values(submitted_at=now)
                .returning(ContestCode.id, ContestCode.serial, ContestCode.batch_id)
                .execution_options(synchronize_session=False)
            )
        ).first()
        if claimed is None:
            known = await session.scalar(
                select(ContestCode.id).where(
                    ContestCode.code_digest == digest, ContestCode.contest_id == contest.id
                )
            )
            if known is None:
                raise InvalidCode
            raise CodeAlreadyEntered("This code has already been entered")
        code_id, serial, batch_id = claimed
        batch = await session.get(ContestCodeBatch, batch_id)
        points = batch.points if batch is not None and contest.kind == "points" else 0
        day = local_day(now, contest.timezone)
        alias, total, reached_at = await self._count(session, contest, customer_id, points, day, now)
        prize = (
            await self._instant_prize(session, contest, customer_id, serial, now)
            if contest.kind == "instant_win"
            else None
        )
        entry = ContestEntry(
            contest_id=contest.id,
            code_id=code_id,
            customer_id=customer_id,
            submitted_at=now,
            local_day=day,
            points=points,
            medium=medium,
            prize_id=prize.id if prize else None,
            coupon_id=None,
        )
        session.add(entry)
        await session.flush()
        if prize is not None:
            coupons = await prize_coupons(
                session,
                self._code_keys,
                prize,
                [customer_id],
                origin=f"contest:{contest.id}:entry:{entry.id}",
                now=now,
            )
            entry.coupon_id = coupons.get(customer_id)
        result: Literal["counted", "win", "lose"] = (
            "counted" if contest.kind == "points" else ("win" if prize else "lose")
        )
        data: dict[str, Any] = {
            "contest_id": contest.id,
            "entry_id": entry.id,
            "result": result,
            "points": points,
        }
        if prize is not None:
            data.update(prize_id=prize.id, value=prize.value, coupon_id=entry.coupon_id)
        await record(
            session, "contest_entry", now, customer_id=customer_id, channel=channel, medium=medium, data=data
        )
        await session.flush()
        rank = participants = None
        if contest.kind == "points":
            rank = await rank_of(session, contest.id, alias, total, reached_at)
            participants = await participant_count(session, contest.id)
        return EntryView(
            id=entry.id,
            contest_id=contest.id,
            result=result,
            participant_id=alias,
            product=batch.product if batch else "",
            points=points,
            total_points=total,
            rank=rank,
            participants=participants,
            prize=PrizeWon(prize.name, prize.value, entry.coupon_id) if prize else None,
            submitted_at=now,
        )

    async def _count(
        self, session: AsyncSession, contest: Contest, customer_id: int, points: int, day: date, now: datetime
    ) -> tuple[str, int, datetime]:
        """Add the entry to the participant's counters if the limits allow: one upsert whose
        update runs only while under them. Returns the alias, the points and ``reached_at``."""
        P = ContestParticipant
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = insert(P).values(
            contest_id=contest.id,
            customer_id=customer_id,
            alias=self._keys.alias(contest.id, customer_id),
            points=points,
            entries=1,
            wins=0,
            day=day,
            day_entries=1,
            reached_at=now,
            joined_at=now,
        )
        new = statement.excluded
        allowed: list[ColumnElement[bool]] = [true()]
        if contest.per_customer_limit is not None:
            allowed.append(P.entries < contest.per_customer_limit)
        if contest.per_day_limit is not None:
            allowed.append(or_(P.day != new.day, P.day_entries < contest.per_day_limit))
        later = case((new.reached_at > P.reached_at, new.reached_at), else_=P.reached_at)
        upsert = statement.on_conflict_do_update(
            index_elements=[P.contest_id, P.customer_id],
            set_={
                "points": P.points + new.points,
                "entries": P.entries + 1,
                "day_entries": case((P.day == new.day, P.day_entries + 1), else_=1),
                "day": new.day,
                "reached_at": later if points > 0 else P.reached_at,
            },
            where=and_(*allowed),
        ).returning(P.alias, P.points, P.reached_at)
        row = (await session.execute(upsert)).first()
        if row is None:
            counted = await session.get(P, (contest.id, customer_id))
            cap = contest.per_customer_limit
            limit = "contest" if cap is not None and counted is not None and counted.entries >= cap else "day"
            maximum = contest.per_customer_limit if limit == "contest" else contest.per_day_limit
            raise EntryLimitReached(
                "You have entered as many codes as this contest allows"
                if limit == "contest"
                else "You have entered as many codes as this contest allows today",
                limit=limit,
                maximum=maximum,
            )
        return str(row[0]), int(row[1]), row[2]

    async def _instant_prize(
        self, session: AsyncSession, contest: Contest, customer_id: int, serial: int, now: datetime
    ) -> ContestPrize | None:
        """The prize the code carries, if the caps still allow it: the contest's winners and
        budget, the prize's stock and the customer's prizes (conditional counters, rolled back
        together when one of them refuses, so concurrent entries cannot pass a cap)."""
        if contest.pool_size is None:
            return None
        prizes = list(
            await session.scalars(
                select(ContestPrize)
                .where(ContestPrize.contest_id == contest.id, ContestPrize.tier == "instant")
                .order_by(ContestPrize.position)
            )
        )
        position = instant_prize(
            self._keys.instant_rank(contest.id, serial, contest.pool_size), [p.count for p in prizes]
        )
        if position is None:
            return None
        prize = prizes[position]
        if prize.campaign_id is not None:
            # A prize whose coupon could never be redeemed is no win: nothing is counted for it.
            campaign = await session.get(Campaign, prize.campaign_id)
            reason = "campaign_missing" if campaign is None else cannot_issue(campaign, now)
            if reason is not None:
                log.warning("prize campaign cannot issue", prize_id=prize.id, reason=reason)
                return None
        counter = ContestCounter
        try:
            async with session.begin_nested():
                capped = await session.execute(
                    update(counter)
                    .where(
                        counter.contest_id == contest.id,
                        counter.wins < counter.max_winners,
                        or_(counter.budget.is_(None), counter.spent + prize.value <= counter.budget),
                    )
                    .values(wins=counter.wins + 1, spent=counter.spent + prize.value)
                )
                if capped.rowcount == 0:  # type: ignore[attr-defined]
                    raise _NoPrize
                stocked = await session.execute(
                    update(ContestPrize)
                    .where(ContestPrize.id == prize.id, ContestPrize.won < ContestPrize.count)
                    .values(won=ContestPrize.won + 1)
                    .execution_options(synchronize_session=False)
                )
                if stocked.rowcount == 0:  # type: ignore[attr-defined]
                    raise _NoPrize
                P = ContestParticipant
                own = update(P).where(P.contest_id == contest.id, P.customer_id == customer_id)
                if contest.prizes_per_customer_limit is not None:
                    own = own.where(P.wins < contest.prizes_per_customer_limit)
                counted = await session.execute(
                    own.values(wins=P.wins + 1).execution_options(synchronize_session=False)
                )
                if counted.rowcount == 0:  # type: ignore[attr-defined]
                    raise _NoPrize
        except _NoPrize:
            return None
        return prize
