from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base


class MessageReceipt(Base):
    """A gateway's delivery receipt, kept under the message's id and status so that a repeated
    receipt is recognised and records nothing (``tessera.messages.receipts``)."""

    __tablename__ = "message_receipts"

    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    received_at: Mapped[datetime]
