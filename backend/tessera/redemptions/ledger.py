"""The redemption ledger: the one place that decides a redemption.

Each implementation runs the whole decision in one database transaction — idempotency
reservation, throttle check, the conditional coupon update, limit counters, the redemption row,
the ``redeemed`` event and the stored answer — so the answer a client sees is exactly what was
committed, and a retry with the same ``Idempotency-Key`` gets the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tessera.core.clock import rfc3339


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    scope: str
    key: str
    request_hash: bytes


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    """Failure budgets in fixed windows of ``window_seconds``: each attempt that fails counts
    against every subject (e.g. ``staff:12``, ``store:3``, ``scans``); a subject that has spent
    its budget refuses further attempts until the window ends."""

    budgets: tuple[tuple[str, int], ...]
    window_seconds: int

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(subject for subject, _ in self.budgets)

    def within(self, counts: dict[str, int]) -> bool:
        """Whether every subject's count in this window, this attempt included, is within its
        budget."""
        return all(counts.get(subject, 0) <= budget for subject, budget in self.budgets)

    def spent(self, failures: dict[str, int]) -> bool:
        """Whether any subject's ``failures`` in this window reached its budget."""
        return any(failures.get(subject, 0) >= budget for subject, budget in self.budgets)

    def window_start(self, now: datetime) -> int:
        epoch = int(now.timestamp())
        return epoch - epoch % self.window_seconds

    def retry_after(self, now: datetime) -> int:
        return max(1, self.window_start(now) + self.window_seconds - int(now.timestamp()))


@dataclass(frozen=True, slots=True)
class RedeemRequest:
    digest: bytes
    medium: str
    now: datetime
    store_id: int
    staff_id: int
    order_total: int | None
    idempotency: IdempotencyClaim | None
    throttle: ThrottleRule


@dataclass(frozen=True, slots=True)
class Outcome:
    """An answer: 201 with the redemption, or an error status with ``{"code": …, **data}``."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


class RedemptionLedger(Protocol):
    async def redeem(self, request: RedeemRequest) -> Outcome: ...

    async def throttled(self, rule: ThrottleRule, now: datetime) -> bool:
        """True when any subject of ``rule`` has spent its failure budget in this window."""
        ...

    async def record_failure(self, rule: ThrottleRule, now: datetime) -> None: ...

    async def take_attempt(self, rule: ThrottleRule, now: datetime) -> bool:
        """Count one attempt against every subject of ``rule`` in one statement and say whether
        all stayed within budget; an attempt past a budget stays counted and must be refused.
        Unlike ``throttled`` then ``record_failure``, concurrent attempts cannot all pass a
        check before any of them is counted."""
        ...

    async def give_back(self, rule: ThrottleRule, now: datetime) -> None:
        """Uncount an attempt of ``take_attempt`` that succeeded, where only failures count."""
        ...


def success_body(
    *,
    redemption_id: int,
    coupon_id: int,
    campaign_id: int,
    redeemed_at: datetime,
    store_id: int,
    staff_id: int,
    medium: str,
    channel: str,
    order_total: int | None,
    discount_kind: str,
    discount_value: int,
    currency: str | None,
) -> dict[str, Any]:
    return {
        "id": redemption_id,
        "coupon_id": coupon_id,
        "campaign_id": campaign_id,
        "redeemed_at": rfc3339(redeemed_at),
        "store_id": store_id,
        "staff_id": staff_id,
        "medium": medium,
        "channel": channel,
        "order_total": order_total,
        "discount": {"kind": discount_kind, "value": discount_value, "currency": currency},
    }
