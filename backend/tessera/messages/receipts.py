"""Delivery receipts: a gateway says a message it took was delivered or failed.

A receipt names the message by the id Tessera sent it with; its channel, customer, campaign and
coupon are those of the message's ``message_sent`` event, so the receipt counts where the message
did. Each (message id, status) is recorded once, with its event, in one transaction: a gateway may
repeat a receipt freely. A receipt for a message not (yet) recorded as sent is refused with 404 —
the gateway can hardly be faster than the outbox's completion, but if it is, its retry succeeds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from sqlalchemy import literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.core.clock import Clock
from tessera.core.errors import NotFound
from tessera.events.log import record
from tessera.models.events import SENT_MESSAGE_ID, Event
from tessera.models.messages import MessageReceipt

ReceiptStatus = Literal["delivered", "failed"]


class UnknownMessage(NotFound):
    code = "unknown_message"
    title = "No message with this id was sent"


class Receipt(msgspec.Struct, forbid_unknown_fields=True):
    """What became of one message: ``message_id`` as Tessera sent it (``id`` of the webhook's
    body), ``delivered`` or ``failed``, when (absent: now) and, for a failure, why."""

    message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[!-~]+$")]
    status: ReceiptStatus
    at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class ReceiptAnswer(msgspec.Struct):
    """``duplicate``: this status of this message was recorded before; nothing was done."""

    message_id: str
    status: ReceiptStatus
    duplicate: bool


class MessageReceipts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def receive(self, receipt: Receipt) -> ReceiptAnswer:
        """Record ``receipt`` once, with its ``message_delivered`` or ``message_failed`` event."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            # Literals, not parameters: both stores then match the partial expression index.
            sent = (
                await session.execute(
                    select(Event.channel, Event.customer_id, Event.campaign_id, Event.coupon_id, Event.data)
                    .where(
                        Event.type == literal_column("'message_sent'"),
                        literal_column(SENT_MESSAGE_ID) == receipt.message_id,
                    )
                    .limit(1)
                )
            ).first()
            if sent is None:
                raise UnknownMessage("No message with this id was sent")
            if not await _first_receipt(session, receipt, now):
                return ReceiptAnswer(receipt.message_id, receipt.status, duplicate=True)
            data = {"message_id": receipt.message_id, "kind": (sent.data or {}).get("kind")}
            if receipt.reason is not None:
                data["reason"] = receipt.reason
            await record(
                session,
                f"message_{receipt.status}",
                receipt.at or now,
                channel=sent.channel,
                customer_id=sent.customer_id,
                campaign_id=sent.campaign_id,
                coupon_id=sent.coupon_id,
                data=data,
            )
        return ReceiptAnswer(receipt.message_id, receipt.status, duplicate=False)


async def _first_receipt(session: AsyncSession, receipt: Receipt, now: datetime) -> bool:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    added = await session.scalar(
        insert(MessageReceipt)
        .values(message_id=receipt.message_id, status=receipt.status, received_at=now)
        .on_conflict_do_nothing()
        .returning(MessageReceipt.message_id)
    )
    return added is not None
