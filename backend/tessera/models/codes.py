from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base


class CodeBatch(Base):
    """A run of unassigned codes for print/SMS/e-mail lists.

    Serials ``first_serial .. first_serial + count - 1`` are reserved when the batch is made;
    ``generated`` advances in the same transaction as each chunk of coupons, so a batch that
    was interrupted resumes exactly where it stopped.
    """

    __tablename__ = "code_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(BigInteger)
    first_serial: Mapped[int] = mapped_column(BigInteger)
    generated: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
