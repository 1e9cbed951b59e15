from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base, BigIntId


class SmsInbound(Base):
    """One message the SMS gateway posted, kept under the gateway's own id so that a repeat is
    recognised, with what Tessera made of it. The text itself is not kept. ``from_number`` is
    where the reply goes; erasure clears it."""

    __tablename__ = "sms_inbound"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(100), unique=True)
    from_number: Mapped[str | None] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # What the text was read as (``tessera.sms.service.Reply``).
    reply: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]
    created_at: Mapped[datetime]


class SmsVoucherCount(Base):
    """How many printed codes of an SMS voucher campaign a customer has exchanged: the per-number
    limit, changed by one conditional upsert in the exchange's transaction."""

    __tablename__ = "sms_voucher_counts"

    campaign_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    exchanged: Mapped[int]
