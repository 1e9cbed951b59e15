"""Inbound SMS, each decided in one transaction: the gateway's id recorded (a repeat changes
nothing), the text read (STOP, HELP, a campaign keyword), the effect written, and the reply
queued in the outbox, which composes it at delivery (``tessera.sms.delivery``) so that no code
is stored in clear.

Registration stays the gate: a number no customer registered gets only the registration reply;
a join keyword does not register anyone, because registration needs the terms accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Final

import msgspec
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.campaigns.segments import members
from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import InvalidCode, parse
from tessera.contests.entries import SMS_MEDIUM, ContestEntries
from tessera.contests.errors import CodeAlreadyEntered, ConsentRequired, ContestNotOpen, EntryLimitReached
from tessera.core.clock import Clock
from tessera.core.errors import InvalidValue, NotAuthenticated
from tessera.coupons.issuing import CAMPAIGN_ORIGIN, issue_coupons
from tessera.customers.consents import withdraw_marketing
from tessera.customers.phones import e164
from tessera.events.log import record
from tessera.models.campaigns import Campaign
from tessera.models.contests import Contest, ContestCode
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer
from tessera.models.outbox import OutboxMessage
from tessera.models.sms import SmsInbound, SmsVoucherCount
from tessera.offers.state import cannot_issue
from tessera.redemptions.ledger import RedemptionLedger, ThrottleRule
from tessera.sms.texts import ReplyKind
from tessera.sms.words import command_of, keyword_of
from tessera.sms.writers import SMS_REPLY, Arrival, InboxWriter

# Shorter texts are words, not attempts at a printed code (the shortest code has 15 characters).
MIN_CODE_CHARACTERS: Final = 10
PhoneText = Annotated[
    str, msgspec.Meta(min_length=1, max_length=32, description="A phone number, E.164 or local")
]


class InvalidSignature(NotAuthenticated):
    code = "invalid_signature"
    title = "The message is not signed by the SMS gateway"


class InboundSms(msgspec.Struct, forbid_unknown_fields=True):
    """One message the gateway received: its own id (a repeat is ignored), the sender, the
    number it was sent to, the text and when it arrived (absent: now)."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[!-~]+$")]
    from_: PhoneText = msgspec.field(name="from")
    to: PhoneText
    text: Annotated[str, msgspec.Meta(max_length=1600)]
    received_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class SmsReceipt(msgspec.Struct):
    """``duplicate``: the id was seen before; nothing was done this time."""

    id: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class Decision:
    reply: ReplyKind
    payload: dict[str, Any] = field(default_factory=dict)
    # A code that is not valid: counted against these budgets once the message is recorded.
    failed: ThrottleRule | None = None


class SmsInbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        code_keys: CodeKeys,
        entries: ContestEntries,
        ledger: RedemptionLedger,
        phone_region: str | None,
        vouchers_per_number: int,
        writer: InboxWriter,
    ) -> None:
        self._writer = writer
        self._vouchers_per_number = vouchers_per_number
        self._sessions = sessions
        self._clock = clock
        self._code_keys = code_keys
        self._entries = entries
        self._ledger = ledger
        self._region = phone_region

    async def receive(self, message: InboundSms) -> SmsReceipt:
        """Read ``message`` and queue its reply, once per gateway id."""
        number = e164(message.from_, self._region)
        if number is None:
            raise InvalidValue("The sender is not a phone number", field="from")
        now = self._clock.now()
        arrival = Arrival(
            message.id, number, message.to, command_of(message.text), message.received_at or now, now
        )
        simple = await self._writer.record_simple(arrival)
        if simple is not None:
            return SmsReceipt(message.id, duplicate=simple.duplicate)
        async with self._sessions.begin() as session:
            inbound_id = await _recorded(session, message, number, now)
            if inbound_id is None:
                return SmsReceipt(message.id, duplicate=True)
            customer = await session.scalar(
                select(Customer).where(Customer.phone == number, Customer.erased_at.is_(None))
            )
            decision = await self._decide(session, customer, message.text, now)
            customer_id = customer.id if customer is not None else None
            await session.execute(
                update(SmsInbound)
                .where(SmsInbound.id == inbound_id)
                .values(reply=decision.reply, customer_id=customer_id)
            )
            session.add(
                OutboxMessage(
                    topic=SMS_REPLY,
                    target=str(inbound_id),
                    coupon_id=decision.payload.get("coupon_id"),
                    payload={"reply": decision.reply, **decision.payload},
                    created_at=now,
                    available_at=now,
                    attempts=0,
                )
            )
            await record(
                session,
                "sms_received",
                now,
                customer_id=customer_id,
                channel="sms",
                data={"reply": decision.reply},
            )
        if decision.failed is not None:
            await self._ledger.record_failure(decision.failed, now)
        return SmsReceipt(message.id, duplicate=False)

    async def _decide(
        self, session: AsyncSession, customer: Customer | None, text: str, now: datetime
    ) -> Decision:
        command = command_of(text)
        if command == "stop":
            if customer is not None:
                await withdraw_marketing(session, customer.id, "sms", now)
            return Decision("stop")
        if command == "help":
            return Decision("help")
        if customer is None:
            return Decision("register")
        keyword = keyword_of(text)
        if keyword is not None:
            campaign = await session.scalar(select(Campaign).where(Campaign.sms_keyword == keyword))
            if campaign is not None:
                return await self._keyword_coupon(session, customer, campaign, now)
        code = _code_of(text)
        if code is not None:
            return await self._contest_code(session, customer.id, code, now)
        return Decision("help")

    async def _contest_code(
        self, session: AsyncSession, customer_id: int, code: str, now: datetime
    ) -> Decision:
        """Enter a printed code for the customer exactly as ``POST /api/contests/{id}/entries``
        does (``ContestEntries.enter``, in a savepoint: a refusal undoes only the entry). A code
        that is not valid counts against the customer's budget and every running contest's."""
        running = list(
            await session.scalars(
                select(Contest.id).where(
                    Contest.starts_at <= now,
                    Contest.ends_at > now,
                    Contest.entries_closed_at.is_(None),
                    Contest.drawn_at.is_(None),
                )
            )
        )
        voucher: Coupon | None = None
        try:
            presented = parse(code.replace(" ", ""), typed=True)
            contest_id = None
            if presented.format == "random":
                digest = self._entries.digest(presented.code)
                contest_id = await session.scalar(
                    select(ContestCode.contest_id).where(ContestCode.code_digest == digest)
                )
            if contest_id is None:
                voucher = await _voucher_of(session, self._code_keys.digest(presented.code))
                if voucher is None:
                    raise InvalidCode
        except InvalidCode:
            if not _looks_like_code(code):
                return Decision("help")  # words that happen to be long, not a code typed wrong
            rule = self._entries.throttle(customer_id, *running)
            if await self._ledger.throttled(rule, now):
                return Decision("throttled")
            return Decision("code_invalid", failed=rule)
        if voucher is not None:
            rule = self._entries.throttle(customer_id, *running)
            if await self._ledger.throttled(rule, now):
                return Decision("throttled")
            return await self._exchange(session, customer_id, voucher, now)
        if contest_id is None:  # unreachable: without a voucher the code named a contest
            return Decision("code_invalid")
        rule = self._entries.throttle(customer_id, contest_id)
        if await self._ledger.throttled(rule, now):
            return Decision("throttled")
        contest = await session.get(Contest, contest_id)
        values: dict[str, Any] = {"contest": contest.name if contest is not None else ""}
        try:
            async with session.begin_nested():
                # The code came in a text message: channel and medium sms, whatever its format.
                entry = await self._entries.enter(
                    session, customer_id, contest_id, digest, SMS_MEDIUM, now, channel="sms"
                )
        except CodeAlreadyEntered:
            return Decision("entry_used")
        except ContestNotOpen:
            return Decision("contest_closed", {"values": values})
        except EntryLimitReached:
            return Decision("entry_limit", {"values": values})
        except ConsentRequired:
            return Decision("consent")
        if entry.result == "counted":
            values.update(
                points=entry.points,
                total=entry.total_points,
                rank=entry.rank,
                participants=entry.participants,
            )
            return Decision("entry_points", {"values": values})
        if entry.prize is None:
            return Decision("entry_lose", {"values": values})
        values["prize"] = entry.prize.name
        if entry.prize.coupon_id is None:
            return Decision("entry_win", {"values": values})
        return Decision("entry_win_code", {"values": values, "coupon_id": entry.prize.coupon_id})

    async def _exchange(
        self, session: AsyncSession, customer_id: int, voucher: Coupon, now: datetime
    ) -> Decision:
        """Exchange a printed voucher code for a personal coupon of its target campaign, in a
        savepoint: the code used up by one conditional update (each code once, whoever races
        for it), the customer's count by one conditional upsert (the per-number limit), then the
        coupon; a refusal undoes all of it."""
        customer = await session.get(Customer, customer_id)
        if customer is None or not customer.marketing_consent:
            return Decision("consent")
        try:
            async with session.begin_nested():
                used = await session.execute(
                    update(Coupon)
                    .where(
                        Coupon.id == voucher.id,
                        Coupon.redeemed_at.is_(None),
                        Coupon.revoked_at.is_(None),
                        Coupon.expires_at > now,
                    )
                    .values(revoked_at=now)
                    .execution_options(synchronize_session=False)
                )
                if not used.rowcount:  # type: ignore[attr-defined]
                    raise _Refused("entry_used")
                if not await self._count_exchange(session, voucher.campaign_id, customer_id):
                    raise _Refused("voucher_limit")
                source = await session.get(Campaign, voucher.campaign_id)
                target = (
                    await session.get(Campaign, source.voucher_target_id)
                    if source is not None and source.voucher_target_id is not None
                    else None
                )
                if (
                    target is None
                    or not target.starts_at <= now < target.ends_at
                    or cannot_issue(target, now)
                ):
                    raise _Refused("offer_closed")
                issued = await issue_coupons(
                    session,
                    self._code_keys,
                    target,
                    [customer_id],
                    origin=f"sms-voucher:{voucher.id}",
                    channel="sms",
                    now=now,
                )
                await record(session, "revoked", now, campaign_id=voucher.campaign_id, coupon_id=voucher.id)
        except _Refused as refusal:
            return Decision(refusal.reply)
        return Decision("voucher", {"coupon_id": issued[0].coupon_id})

    async def _count_exchange(self, session: AsyncSession, campaign_id: int, customer_id: int) -> bool:
        C = SmsVoucherCount
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = insert(C).values(campaign_id=campaign_id, customer_id=customer_id, exchanged=1)
        counted = await session.scalar(
            statement.on_conflict_do_update(
                index_elements=[C.campaign_id, C.customer_id],
                set_={"exchanged": C.exchanged + 1},
                where=C.exchanged < self._vouchers_per_number,
            ).returning(C.exchanged)
        )
        return counted is not None

    async def _keyword_coupon(
        self, session: AsyncSession, customer: Customer, campaign: Campaign, now: datetime
    ) -> Decision:
        """The campaign's one coupon per customer, as publishing would issue it (the unique
        index on campaign, customer and origin keeps it one however many messages race); the
        customer who holds it already is sent it again."""
        if not customer.marketing_consent:
            return Decision("consent")
        running = campaign.starts_at <= now < campaign.ends_at
        if not running or campaign.trigger_kind is not None or cannot_issue(campaign, now) is not None:
            return Decision("offer_closed")
        if customer.id not in await members(session, campaign.segment, [customer.id]):
            # As publishing would not reach them; the reply does not tell the segment.
            return Decision("offer_closed")
        issued = await issue_coupons(
            session, self._code_keys, campaign, [customer.id], origin=CAMPAIGN_ORIGIN, channel="sms", now=now
        )
        if issued:
            return Decision("coupon", {"coupon_id": issued[0].coupon_id})
        held = await session.scalar(
            select(Coupon.id).where(
                Coupon.campaign_id == campaign.id,
                Coupon.customer_id == customer.id,
                Coupon.origin == CAMPAIGN_ORIGIN,
            )
        )
        return Decision("coupon_held", {"coupon_id": held})


class _Refused(Exception):
    def __init__(self, reply: ReplyKind) -> None:
        self.reply = reply


async def _voucher_of(session: AsyncSession, digest: bytes) -> Coupon | None:
    """The printed code of an SMS voucher campaign with this digest, used or not."""
    voucher: Coupon | None = await session.scalar(
        select(Coupon)
        .join(Campaign, Campaign.id == Coupon.campaign_id)
        .where(
            Coupon.code_digest == digest,
            Coupon.customer_id.is_(None),
            Campaign.voucher_target_id.is_not(None),
        )
    )
    return voucher


def _code_of(text: str) -> str | None:
    """The text as a typed code (separators and case as the code parser takes them), when it
    could be one: a single run of at least 10 letters and digits."""
    typed = " ".join(text.split())
    bare = typed.replace("-", "").replace(" ", "")
    if len(bare) < MIN_CODE_CHARACTERS or not bare.isascii() or not bare.isalnum():
        return None
    return typed


def _looks_like_code(typed: str) -> bool:
    """One run of characters, or one with a digit or a dash: what a person copying a printed
    code sends, unlike a sentence."""
    return len(typed.split()) == 1 or "-" in typed or any(character.isdigit() for character in typed)


async def _recorded(session: AsyncSession, message: InboundSms, number: str, now: datetime) -> int | None:
    """The new row's id, or None when the gateway id was recorded before (a concurrent repeat
    waits for the first and then finds it)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    inbound_id: int | None = await session.scalar(
        insert(SmsInbound)
        .values(
            gateway_id=message.id,
            from_number=number,
            to_number=message.to[:32],
            customer_id=None,
            reply="help",
            received_at=message.received_at or now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["gateway_id"])
        .returning(SmsInbound.id)
    )
    return inbound_id
