from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from tessera.core.schemas import MAX_INT, Id, LongText, ShortText

Positive = Annotated[int, msgspec.Meta(ge=1, le=MAX_INT)]
Count = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Money = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
TimeZone = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")
]
Kind = Literal["points", "instant_win"]


class PrizeInput(msgspec.Struct, forbid_unknown_fields=True):
    name: ShortText
    count: Count = 1
    value: Money = 0  # minor units of the contest's currency; counts against an instant win's budget
    campaign_id: Id | None = None  # the prize is a personal coupon of this campaign


class ContestLimits(msgspec.Struct, forbid_unknown_fields=True):
    per_customer: Positive | None = None  # submissions in the whole contest
    per_day: Positive | None = None  # submissions per day of the contest's time zone
    # Instant win: prizes one customer (and so one phone number) may win; a winning code past
    # it loses.
    prizes_per_customer: Positive | None = None


class ContestCreate(msgspec.Struct, forbid_unknown_fields=True):
    kind: Kind
    name: ShortText
    starts_at: datetime
    ends_at: datetime
    description: LongText = ""
    timezone: TimeZone = "UTC"
    code_length: Annotated[int, msgspec.Meta(ge=14, le=24)] | None = None
    limits: ContestLimits = msgspec.field(default_factory=ContestLimits)
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] | None = None
    # Points: the top prizes, first place first. Instant win: what winning codes carry.
    prizes: Annotated[list[PrizeInput], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    # Points only: drawn at random among the participants below the top places.
    consolation: Annotated[list[PrizeInput], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=list
    )
    # Instant win only: the number of codes the winners are spread over, and the caps.
    pool_size: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] | None = None
    max_winners: Positive | None = None
    budget: Annotated[int, msgspec.Meta(ge=0, le=10**15)] | None = None


class PrizeView(msgspec.Struct):
    tier: Literal["top", "consolation", "instant"]
    name: str
    count: int
    value: int
    campaign_id: int | None


class ContestView(msgspec.Struct):
    id: int
    kind: Kind
    name: str
    description: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    status: Literal["scheduled", "running", "ended", "closed", "drawn"]
    limits: ContestLimits
    currency: str | None
    prizes: list[PrizeView]
    pool_size: int | None
    # SHA-256 (hex) of the draw's seed, public from the start; the seed once drawn.
    commitment: str
    seed: str | None
    entries_closed_at: datetime | None
    drawn_at: datetime | None
    leaderboard_url: str | None
    draw_url: str | None


class PrizeFigures(msgspec.Struct):
    tier: str
    name: str
    count: int
    value: int
    won: int


class ContestReport(msgspec.Struct):
    contest: ContestView
    codes: int
    entries: int
    participants: int
    wins: int
    spent: int
    max_winners: int | None
    budget: int | None
    prizes: list[PrizeFigures]


class ContestBatchCreate(msgspec.Struct, forbid_unknown_fields=True):
    count: Count
    # Points contests: the product type the codes go under and what each code is worth.
    product: Annotated[str, msgspec.Meta(max_length=200)] = ""
    points: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None


class ContestBatchView(msgspec.Struct):
    id: int
    contest_id: int
    count: int
    generated: int
    product: str
    points: int
    status: Literal["running", "done"]
    created_at: datetime
    finished_at: datetime | None
    progress_url: str
    export_url: str


class EntryInput(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class PrizeWon(msgspec.Struct):
    name: str
    value: int
    coupon_id: int | None


class EntryView(msgspec.Struct):
    """``counted`` (points), ``win`` or ``lose`` (instant win)."""

    id: int
    contest_id: int
    result: Literal["counted", "win", "lose"]
    participant_id: str
    product: str
    points: int
    total_points: int
    rank: int | None
    participants: int | None
    prize: PrizeWon | None
    submitted_at: datetime


class Leader(msgspec.Struct):
    rank: int
    participant_id: str
    points: int


class MyStanding(msgspec.Struct):
    rank: int
    participant_id: str
    points: int
    entries: int


class Leaderboard(msgspec.Struct):
    contest_id: int
    participants: int
    leaders: list[Leader]
    me: MyStanding | None


class DrawParticipant(msgspec.Struct):
    id: str
    points: int
    reached_at: str  # YYYY-MM-DDTHH:MM:SS.ffffffZ, fixed width


class DrawPrize(msgspec.Struct):
    name: str
    count: int
    value: int


class DrawWinner(msgspec.Struct):
    id: str
    tier: Literal["top", "consolation"]
    place: int
    prize: str


class DrawRecord(msgspec.Struct):
    """Everything needed to recompute the winners (``tessera.contests.rules``)."""

    contest_id: int
    algorithm: str
    commitment: str
    seed: str
    entries_closed_at: datetime
    drawn_at: datetime
    participants_digest: str
    participants: list[DrawParticipant]
    top: list[DrawPrize]
    consolation: list[DrawPrize]
    winners: list[DrawWinner]
