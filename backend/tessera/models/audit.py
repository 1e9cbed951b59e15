from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base, BigIntId, JSONType


class AuditEntry(Base):
    """One action of a marketer, an admin, a staff member or a customer on the shop's data,
    written in the transaction of the action itself (so an action that failed left none).
    ``data`` names what changed (field names, counts), never personal data."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject", "subject_type", "subject_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    at: Mapped[datetime]
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
