from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base, BigIntId, JSONType

# The id of a ``message_sent`` event's message, as an expression both stores index and match.
SENT_MESSAGE_ID = "(data ->> 'message_id')"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_campaign_type_time", "campaign_id", "type", "occurred_at"),
        Index("ix_events_coupon", "coupon_id"),
        Index("ix_events_customer", "customer_id"),
        # A delivery receipt finds the message it is about by the message's id.
        Index(
            "ix_events_sent_message",
            text(SENT_MESSAGE_ID),
            sqlite_where=text("type = 'message_sent'"),
            postgresql_where=text("type = 'message_sent'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    occurred_at: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(32))
    campaign_id: Mapped[int | None]
    coupon_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[int | None]
    channel: Mapped[str | None] = mapped_column(String(16))
    medium: Mapped[str | None] = mapped_column(String(16))
    store_id: Mapped[int | None]
    staff_id: Mapped[int | None]
    amount: Mapped[int | None] = mapped_column(BigInteger)
    # A void names the redemption it cancels (analytics take that redemption's time back).
    redemption_id: Mapped[int | None] = mapped_column(BigInteger)
    # How many coupons one event stands for (bulk code batches record one event per chunk).
    quantity: Mapped[int] = mapped_column(default=1, server_default="1")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
