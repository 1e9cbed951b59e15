from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base


class MemberCard(Base):
    """A customer's member card. Its code is derived from the customer id (``CodeKeys``), so only
    the lookup digest is kept; erasure deletes the row, and the card stops being found."""

    __tablename__ = "member_cards"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    code_digest: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    created_at: Mapped[datetime]
