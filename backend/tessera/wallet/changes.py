"""A coupon's wallet pass changed: queue the pushes that tell its wallets, in the caller's
transaction (the outbox delivers them later; see ``tessera.outbox``).

One outbox row per registered Apple device (an APNs push makes it fetch the new pass) and one
per Google object the customer saved (its state is set through Google's API). The redemption
hot path runs the same statements — on SQLite from ``redemptions.ledger_sqlite`` with stdlib
``sqlite3`` parameters, on PostgreSQL inside ``tessera_redeem`` (migrations/sql) — and only for
coupons with ``wallet_added_at``, which the Apple and Google services set when a wallet takes a
pass.

What a pass shows follows the offer rules, so a pass also changes when nothing of its own
coupon does: when the owner's per-customer limit is spent or opened again (their other coupons
of the campaign; ``customer_redemption_counts.passes_changed_at``), and when the campaign's
redemptions are spent or freed, a limit changes or its look does (every pass of the campaign;
``campaigns.passes_changed_at``). The first are a few rows, queued at once; the second may be
a million, so one outbox row (``CAMPAIGN_PASSES``) walks them in chunks (``wallet.delivery``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.core.db.base import UTCDateTime
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.outbox import OutboxMessage
from tessera.models.redemptions import CustomerRedemptionCount

APPLE_PUSH: Final = "apple_pass_push"
GOOGLE_STATE: Final = "google_object_state"
# Target: the campaign id; payload: ``{"after": coupon id, "open_only": bool}`` (see ``campaign_passes``).
CAMPAIGN_PASSES: Final = "campaign_passes"

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
# The owner's limit turned with a change of ``coupon_id``: their other open coupons of the
# campaign in a wallet, whose passes change with it (named parameters ``campaign_id``,
# ``customer_id``, ``coupon_id``). The ledger looks for them first and queues only if there are
# any: most owners hold one coupon of a campaign, and the lookup is a third of the queueing.
OWNER_OTHERS_IN_WALLET_SQL: Final = (
    "SELECT id FROM coupons WHERE campaign_id = :campaign_id AND customer_id = :customer_id "
    "AND id <> :coupon_id AND wallet_added_at IS NOT NULL AND redeemed_at IS NULL AND revoked_at IS NULL"
)
# The campaign's redemptions are spent (named parameters ``campaign_id``, ``target`` (its text),
# ``now``): every open pass of it changes.
CAMPAIGN_SPENT_SQL: Final = (
    "UPDATE campaigns SET passes_changed_at = :now WHERE id = :campaign_id",
    "INSERT INTO outbox (topic, target, coupon_id, payload, created_at, available_at, attempts) "
    "VALUES ('campaign_passes', :target, NULL, '{\"open_only\": true}', :now, :now, 0)",
)

_QUEUE_FOR_COUPONS = text(_QUEUE_FOR.format(match="IN :coupon_ids")).bindparams(
    bindparam("coupon_ids", expanding=True), bindparam("now", type_=UTCDateTime())
)
_QUEUE_FOR_OWNER = text(_QUEUE_FOR.format(match=f"IN ({OWNER_OTHERS_IN_WALLET_SQL})")).bindparams(
    bindparam("now", type_=UTCDateTime())
)


async def queue_pass_pushes(session: AsyncSession, coupon_ids: Sequence[int], now: datetime) -> None:
    """Queue the wallet pushes of ``coupon_ids`` (their passes' version moved already)."""
    if coupon_ids:
        await session.execute(_QUEUE_FOR_COUPONS, {"coupon_ids": list(coupon_ids), "now": now})


async def pass_changed(session: AsyncSession, coupon_ids: Sequence[int], now: datetime) -> None:
    """Mark the passes of ``coupon_ids`` changed at ``now`` and queue their wallet pushes."""
    if not coupon_ids:
        return
    await session.execute(update(Coupon).where(Coupon.id.in_(coupon_ids)).values(pass_updated_at=now))
    await queue_pass_pushes(session, coupon_ids, now)


async def owner_passes_changed(
    session: AsyncSession, campaign_id: int, customer_id: int, coupon_id: int, now: datetime
) -> None:
    """The owner's limit in the campaign turned with a change of ``coupon_id`` (whose own pass is
    the caller's to mark): their other coupons of it change at ``now``."""
    await session.execute(
        update(CustomerRedemptionCount)
        .where(
            CustomerRedemptionCount.campaign_id == campaign_id,
            CustomerRedemptionCount.customer_id == customer_id,
        )
        .values(passes_changed_at=now)
    )
    await session.execute(
        _QUEUE_FOR_OWNER,
        {"campaign_id": campaign_id, "customer_id": customer_id, "coupon_id": coupon_id, "now": now},
    )


async def campaign_passes_changed(
    session: AsyncSession, campaign_id: int, now: datetime, *, open_only: bool = False
) -> None:
    """Every pass of the campaign changes at ``now``: its look or texts (every pass), or whether
    its coupons can be used (``open_only``: those neither redeemed nor revoked). One outbox row
    queues their pushes later, chunk by chunk."""
    await session.execute(update(Campaign).where(Campaign.id == campaign_id).values(passes_changed_at=now))
    session.add(
        OutboxMessage(
            topic=CAMPAIGN_PASSES,
            target=str(campaign_id),
            coupon_id=None,
            payload={"open_only": open_only},
            created_at=now,
            available_at=now,
            attempts=0,
        )
    )
