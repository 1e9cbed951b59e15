"""A coupon's wallet pass changed: queue the pushes that tell its wallets, in the caller's
transaction (the outbox delivers them later; see ``tessera.outbox``).

One outbox row per registered Apple device (an APNs push makes it fetch the new pass) and one
per Google object the customer saved (its state is set through Google's API). The redemption
hot path runs the same statement — on SQLite from ``redemptions.ledger_sqlite`` with stdlib
``sqlite3`` parameters, on PostgreSQL inside ``tessera_redeem`` (migrations/sql) — and only for
coupons with ``wallet_added_at``, which the Apple and Google services set when a wallet takes a
pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.core.db.base import UTCDateTime
from tessera.models.coupons import Coupon

APPLE_PUSH: Final = "apple_pass_push"
GOOGLE_STATE: Final = "google_object_state"

_QUEUE_FOR = """
INSERT INTO outbox (topic, target, coupon_id, created_at, available_at, attempts)
SELECT 'apple_pass_push', d.push_token, r.coupon_id, :now, :now, 0
FROM apple_registrations r JOIN apple_devices d ON d.id = r.device_id
WHERE r.coupon_id {match}
UNION ALL
SELECT 'google_object_state', g.object_id, g.coupon_id, :now, :now, 0
FROM google_wallet_objects g
WHERE g.coupon_id {match} AND g.saved_at IS NOT NULL AND g.removed_at IS NULL
"""
# For the SQLite ledger (named parameters ``coupon_id`` and ``now``).
QUEUE_PASS_PUSHES_SQL: Final = _QUEUE_FOR.format(match="= :coupon_id")

_QUEUE_FOR_COUPONS = text(_QUEUE_FOR.format(match="IN :coupon_ids")).bindparams(
    bindparam("coupon_ids", expanding=True), bindparam("now", type_=UTCDateTime())
)
_QUEUE_FOR_CAMPAIGN = text(
    _QUEUE_FOR.format(match="IN (SELECT id FROM coupons WHERE campaign_id = :campaign_id)")
).bindparams(bindparam("now", type_=UTCDateTime()))


async def pass_changed(session: AsyncSession, coupon_ids: Sequence[int], now: datetime) -> None:
    """Mark the passes of ``coupon_ids`` changed at ``now`` and queue their wallet pushes."""
    if not coupon_ids:
        return
    await session.execute(update(Coupon).where(Coupon.id.in_(coupon_ids)).values(pass_updated_at=now))
    await session.execute(_QUEUE_FOR_COUPONS, {"coupon_ids": list(coupon_ids), "now": now})


async def campaign_passes_changed(session: AsyncSession, campaign_id: int, now: datetime) -> None:
    """The campaign's look or texts changed: every pass of it is new."""
    await session.execute(update(Coupon).where(Coupon.campaign_id == campaign_id).values(pass_updated_at=now))
    await session.execute(_QUEUE_FOR_CAMPAIGN, {"campaign_id": campaign_id, "now": now})
