from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base, JSONType


class MailMergeJob(Base):
    """A mail merge that is sent (``deliver: true``): what its chunks need, and how far they got.

    ``processed`` (recipients worked through) and the counters advance in the transaction of
    each chunk, with its coupons and outbox rows, so an interrupted job resumes exactly after the
    last recipient it queued. One job per ``message_id``: asking again answers it.
    """

    __tablename__ = "mail_merge_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(100), unique=True)
    # SHA-256 of the request as it was read: the same message_id with another request is refused.
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(32))
    channel: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(8))
    # ``[[slug, campaign id], ...]`` in the order the template first names them.
    campaigns: Mapped[list[list[Any]]] = mapped_column(JSONType)
    # The request's recipients as given (``{"customer_id"|"email"|"phone": ...}``), emptied when
    # the job finishes: addresses are kept no longer than needed (``fingerprint`` still knows a
    # repeat of the request).
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    recipient_count: Mapped[int]
    processed: Mapped[int] = mapped_column(default=0)
    messages: Mapped[int] = mapped_column(default=0)
    issued: Mapped[int] = mapped_column(default=0)
    # Recipients who get nothing, by problem code (``unknown_recipient``: 3, ...).
    problems: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    # Why the job stopped short (a problem code); None while running and when done.
    error: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class MailMergeMessage(Base):
    """One queued message of a merge: its recipient and the outbox row that sends it. The
    unique (merge, customer) makes a customer's message queued once, however often a chunk is
    written again and however often the list names them."""

    __tablename__ = "mail_merge_messages"
    __table_args__ = (
        UniqueConstraint("merge_id", "customer_id", name="uq_mail_merge_messages_merge_id_customer_id"),
        Index("ix_mail_merge_messages_outbox_id", "outbox_id"),
    )

    merge_id: Mapped[int] = mapped_column(ForeignKey("mail_merge_jobs.id"), primary_key=True)
    recipient_index: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    outbox_id: Mapped[int] = mapped_column(BigInteger)
