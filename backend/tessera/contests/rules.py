"""Pure contest rules: the standing order, the draw, instant-win prizes and the contest's day.

The draw (``DRAW_ALGORITHM``) is a function of the revealed seed and the published participant
list only, so anyone can recompute it (``scripts/verify_draw.py`` does, with hashlib):

1. Participants are ranked by points (more first), then by ``reached_at`` (who reached their
   points first), then by participant id. The live leaderboard uses the same order.
2. The top prizes, tier by tier in their order, are expanded into places (a tier counting 2
   fills two places); the participant ranked *i* gets place *i*.
3. Everybody else is ordered by ``HMAC-SHA256(key=seed, message=participant id as UTF-8)``
   (digest bytes ascending, the id breaking a tie); the *j*-th gets consolation place *j*.

The canonical participant list is one line per participant in rank order,
``<id>\\t<points>\\t<reached_at>\\n`` with ``reached_at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``;
its SHA-256 is published with the draw.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

DRAW_ALGORITHM = "tessera-draw-v1"
Status = Literal["scheduled", "running", "ended", "closed", "drawn"]
Tier = Literal["top", "consolation", "instant"]


def status_of(
    starts_at: datetime,
    ends_at: datetime,
    closed_at: datetime | None,
    drawn_at: datetime | None,
    now: datetime,
) -> Status:
    if drawn_at is not None:
        return "drawn"
    if closed_at is not None:
        return "closed"
    if now < starts_at:
        return "scheduled"
    return "running" if now < ends_at else "ended"


def local_day(moment: datetime, zone: str) -> date:
    """The contest's calendar day at ``moment`` (the per-day limit counts these)."""
    return moment.astimezone(ZoneInfo(zone)).date()


def draw_time(moment: datetime) -> str:
    """Fixed width, so the published times sort as text exactly as they sort as times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Standing:
    id: str
    points: int
    reached_at: datetime


@dataclass(frozen=True, slots=True)
class Award:
    participant: str
    tier: Tier
    place: int  # 1-based within the tier
    position: int  # which prize of the tier (0-based, in the tiers' order)


def ranked(standings: Sequence[Standing]) -> list[Standing]:
    return sorted(standings, key=lambda s: (-s.points, s.reached_at, s.id))


def canonical_list(standings: Sequence[Standing]) -> bytes:
    """The published participant list as bytes, in rank order (what the digest is taken of)."""
    return "".join(f"{s.id}\t{s.points}\t{draw_time(s.reached_at)}\n" for s in ranked(standings)).encode()


def participants_digest(standings: Sequence[Standing]) -> str:
    return hashlib.sha256(canonical_list(standings)).hexdigest()


def _places(counts: Sequence[int]) -> Iterator[int]:
    """The prize position of each place, in place order: counts (2, 1) → 0, 0, 1."""
    for position, count in enumerate(counts):
        yield from (position for _ in range(count))


def draw(
    seed: bytes, standings: Sequence[Standing], top: Sequence[int], consolation: Sequence[int]
) -> list[Award]:
    """Who wins what: ``top`` and ``consolation`` are the counts of each tier's prizes."""
    order = ranked(standings)
    awards: list[Award] = []
    top_places = list(_places(top))
    for place, (standing, position) in enumerate(zip(order, top_places, strict=False), start=1):
        awards.append(Award(standing.id, "top", place, position))
    others = order[len(top_places) :]
    others.sort(key=lambda s: (hmac.digest(seed, s.id.encode(), "sha256"), s.id))
    for place, (standing, position) in enumerate(zip(others, _places(consolation), strict=False), start=1):
        awards.append(Award(standing.id, "consolation", place, position))
    return awards


def instant_prize(rank: int, counts: Sequence[int]) -> int | None:
    """The prize position a code of permuted ``rank`` carries (``ContestKeys.instant_rank``):
    the first prize takes ranks ``0 .. counts[0] - 1``, the next the ranks after, and so on;
    ranks past all prizes lose."""
    for position, count in enumerate(counts):
        if rank < count:
            return position
        rank -= count
    return None
