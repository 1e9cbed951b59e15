"""Contests for codes printed under caps and labels: points collections and instant wins.

Like coupons, a printed code is derived from ``(contest, serial)`` with the secret and only its
keyed digest is stored. A code is entered once: the conditional update of its row decides, and
the entry row is unique per code. Counters (a participant's points and limits, an instant win's
winners and budget) change only by conditional statements in the submitting transaction.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base, BigIntId


class Contest(Base):
    __tablename__ = "contests"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="window"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # points | instant_win
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # Days of the per-day limit are days of this zone.
    timezone: Mapped[str] = mapped_column(String(64))
    code_length: Mapped[int]
    per_customer_limit: Mapped[int | None]
    per_day_limit: Mapped[int | None]
    prizes_per_customer_limit: Mapped[int | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    # Instant win: the serials 0 .. pool_size - 1 make the pool the winning codes are spread over.
    pool_size: Mapped[int | None] = mapped_column(BigInteger)
    next_serial: Mapped[int] = mapped_column(BigInteger, default=0)
    # The draw's seed is derived from this nonce with the secret (a copy of the database does not
    # reveal it); ``commitment`` is the SHA-256 of the seed, public from the start.
    seed_nonce: Mapped[bytes] = mapped_column(LargeBinary(16))
    commitment: Mapped[str] = mapped_column(String(64))
    entries_closed_at: Mapped[datetime | None]
    drawn_at: Mapped[datetime | None]
    # SHA-256 of the canonical participant list the draw was made from (see ``contests.rules``).
    participants_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ContestPrize(Base):
    """A prize tier: ``top`` (ranks of a points contest, in ``position`` order), ``consolation``
    (drawn among the other participants) or ``instant`` (carried by winning codes)."""

    __tablename__ = "contest_prizes"
    __table_args__ = (UniqueConstraint("contest_id", "tier", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"), index=True)
    tier: Mapped[str] = mapped_column(String(16))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    count: Mapped[int]
    value: Mapped[int] = mapped_column(BigInteger)
    # A coupon of this campaign is the prize; without one the prize is recorded only.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    # Awarded so far; for instant wins a conditional counter (``won < count``).
    won: Mapped[int] = mapped_column(default=0)


class ContestCounter(Base):
    """An instant win's caps, apart from the contest row that every submission share-locks."""

    __tablename__ = "contest_counters"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"), primary_key=True)
    max_winners: Mapped[int]
    budget: Mapped[int | None] = mapped_column(BigInteger)
    wins: Mapped[int] = mapped_column(default=0)
    spent: Mapped[int] = mapped_column(BigInteger, default=0)


class ContestCodeBatch(Base):
    """A print run: serials ``first_serial .. first_serial + count - 1`` of one product type;
    ``generated`` advances with each chunk written, so an interrupted batch resumes."""

    __tablename__ = "contest_code_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"), index=True)
    product: Mapped[str] = mapped_column(String(200))
    points: Mapped[int]
    count: Mapped[int] = mapped_column(BigInteger)
    first_serial: Mapped[int] = mapped_column(BigInteger)
    generated: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ContestCode(Base):
    __tablename__ = "contest_codes"
    __table_args__ = (UniqueConstraint("contest_id", "serial"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("contest_code_batches.id"))
    serial: Mapped[int] = mapped_column(BigInteger)
    code_digest: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    submitted_at: Mapped[datetime | None]


class ContestEntry(Base):
    """One accepted submission, append-only; unique per code."""

    __tablename__ = "contest_entries"
    __table_args__ = (Index("ix_contest_entries_contest_customer", "contest_id", "customer_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"))
    code_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("contest_codes.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    submitted_at: Mapped[datetime]
    local_day: Mapped[date] = mapped_column(Date)
    points: Mapped[int]
    medium: Mapped[str] = mapped_column(String(16))
    prize_id: Mapped[int | None] = mapped_column(ForeignKey("contest_prizes.id"))
    coupon_id: Mapped[int | None] = mapped_column(BigInteger)


class ContestParticipant(Base):
    """A customer's standing in a contest, under a pseudonym (``alias``) that is all anyone else
    sees. The counters are changed by one conditional upsert per submission (the limits)."""

    __tablename__ = "contest_participants"
    __table_args__ = (
        UniqueConstraint("contest_id", "alias"),
        Index("ix_contest_participants_standing", "contest_id", "points"),
    )

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    entries: Mapped[int] = mapped_column(default=0)
    wins: Mapped[int] = mapped_column(default=0)
    # The contest-local day of ``day_entries`` (the per-day limit).
    day: Mapped[date] = mapped_column(Date)
    day_entries: Mapped[int] = mapped_column(default=0)
    # When the participant reached their current points: the earlier breaks a tie.
    reached_at: Mapped[datetime]
    joined_at: Mapped[datetime]


class ContestWinner(Base):
    """A prize of a points contest's draw: one per participant at most."""

    __tablename__ = "contest_winners"
    __table_args__ = (
        UniqueConstraint("contest_id", "customer_id"),
        UniqueConstraint("contest_id", "tier", "place"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    alias: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(16))
    place: Mapped[int]
    prize_id: Mapped[int] = mapped_column(ForeignKey("contest_prizes.id"))
    coupon_id: Mapped[int | None] = mapped_column(BigInteger)
    awarded_at: Mapped[datetime]
