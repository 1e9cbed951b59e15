"""Writing events: always through the session of the change they record (same transaction)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.models.events import Event

EVENT_TYPES = frozenset(
    {
        "registered",
        "issued",
        "notified",
        "pass_downloaded",
        "wallet_saved",
        "wallet_removed",
        "validated",
        "redeemed",
        "voided",
        "expired",
        "revoked",
        "erased",
        # Member cards: a wallet pass of the card downloaded (medium: which wallet), a card
        # looked up at a till (medium: where it was shown). Neither counts in the coupon funnel.
        "member_card_downloaded",
        "member_looked_up",
        # Contests (``data`` names the contest): every accepted code, a prize, closing, the draw.
        "contest_entry",
        "contest_prize",
        "contest_closed",
        "contest_drawn",
        # A customer signed in on a device with a one-time code (channel: email or sms).
        "signed_in",
        # An inbound SMS was read (``data.reply``: what it was read as; channel sms).
        "sms_received",
        # An outgoing message (``data``: message_id, kind) a sender took, that a gateway reported
        # delivered, and one given up (by the outbox or in a gateway's receipt); channel: email
        # or sms (``tessera.messages.events``).
        "message_sent",
        "message_delivered",
        "message_failed",
    }
)


def event_row(type_: str, occurred_at: datetime, **fields: Any) -> dict[str, Any]:
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    return {"type": type_, "occurred_at": occurred_at, **fields}


async def record(session: AsyncSession, type_: str, occurred_at: datetime, **fields: Any) -> None:
    """Append one event in the caller's transaction."""
    session.add(Event(**event_row(type_, occurred_at, **fields)))


async def record_many(session: AsyncSession, rows: Iterable[dict[str, Any]]) -> None:
    batch = list(rows)
    if batch:
        await session.execute(insert(Event), batch)


async def record_for_coupon(
    session: AsyncSession, type_: str, occurred_at: datetime, coupon: Any, *, medium: str, **fields: Any
) -> None:
    """Append one event about ``coupon`` (campaign, customer and channel taken from it)."""
    await record(
        session,
        type_,
        occurred_at,
        campaign_id=coupon.campaign_id,
        coupon_id=coupon.id,
        customer_id=coupon.customer_id,
        channel=coupon.channel,
        medium=medium,
        **fields,
    )
