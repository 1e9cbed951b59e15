"""The events of outgoing messages, for the per-channel figures: ``message_sent`` when a sender
took a message, ``message_failed`` when the outbox gives it up, and (from the gateway's delivery
receipts, ``tessera.messages.receipts``) ``message_delivered`` or ``message_failed``.

Every outbox handler that hands a message to a sender calls ``send_recorded``: the event rows
travel with the delivery's outcome, so they are written in the transaction that completes (or
gives up) the outbox row — a message is counted once however often its delivery is retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tessera.events.log import event_row
from tessera.messages.webhook import Message, MessageSender
from tessera.outbox.service import DeliveryFailed


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whom a message is about, for its events."""

    customer_id: int | None
    campaign_id: int | None = None
    coupon_id: int | None = None


def message_event(
    type_: str, message: Message, recipient: Recipient, at: datetime, **data: Any
) -> dict[str, Any]:
    return event_row(
        type_,
        at,
        customer_id=recipient.customer_id,
        campaign_id=recipient.campaign_id,
        coupon_id=recipient.coupon_id,
        channel=message.channel,
        data={"message_id": message.id, "kind": message.kind, **data},
    )


async def send_recorded(
    sender: MessageSender, message: Message, recipient: Recipient, now: datetime
) -> list[dict[str, Any]]:
    """Hand ``message`` to ``sender``; the ``message_sent`` event row of the delivery, or the
    sender's failure carrying the ``message_failed`` row written if the outbox gives up."""
    try:
        await sender.send(message)
    except DeliveryFailed as error:
        error.given_up_as([message_event("message_failed", message, recipient, now, reason=str(error)[:500])])
        raise
    return [message_event("message_sent", message, recipient, now)]
