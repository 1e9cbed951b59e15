from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base


class PublishJob(Base):
    """One run of publishing a campaign to its audience (``campaigns.publishing``).

    ``last_customer_id`` and the counters advance in the same transaction as each chunk of
    coupons, so an interrupted run resumes exactly after the last customer it wrote.
    """

    __tablename__ = "publish_jobs"
    __table_args__ = (
        # At most one running job per campaign: publishing again returns it.
        Index(
            "uq_publish_jobs_running",
            "campaign_id",
            unique=True,
            sqlite_where=text("finished_at IS NULL"),
            postgresql_where=text("finished_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    eligible: Mapped[int] = mapped_column(BigInteger)
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
    already_had: Mapped[int] = mapped_column(BigInteger, default=0)
    last_customer_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # Why the job stopped short (``code_space_exhausted``); None while running and when done.
    error: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
