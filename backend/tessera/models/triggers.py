from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base

# The origin of every coupon a trigger issues: the coupons' unique index on (campaign, customer,
# origin) makes it one per customer per triggered campaign, whichever process issues it.
TRIGGER_ORIGIN: Final = "trigger"


class EventCursor(Base):
    """How far a follower of the event log has read.

    ``position``: every event with a lower or equal id has been handled. ``candidate_*``: the
    highest id seen, with the next PostgreSQL transaction id at that moment; the follower reads up
    to it once every transaction that was running then has ended (as the analytics rollups do),
    so an id taken by a transaction that commits late is never skipped."""

    __tablename__ = "event_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    candidate_id: Mapped[int] = mapped_column(BigInteger)
    candidate_xid: Mapped[int] = mapped_column(BigInteger)
    candidate_at: Mapped[datetime]
