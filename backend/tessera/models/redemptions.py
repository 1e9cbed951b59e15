from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base, BigIntId


class Redemption(Base):
    """Append-only log of uses. A void is a row of kind ``void`` for the same ``(coupon, seq)``;
    the unique constraint makes a second redemption of the same coupon state impossible.

    Like the event log, only the ledger writes it, from the coupon row and the authenticated
    staff account: campaign, customer, store and staff carry no foreign keys, whose checks would
    lock the same few parent rows for every concurrent redemption (migration 0007)."""

    __tablename__ = "redemptions"
    __table_args__ = (UniqueConstraint("coupon_id", "seq", "kind"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"))
    seq: Mapped[int]
    campaign_id: Mapped[int] = mapped_column(index=True)
    customer_id: Mapped[int | None]
    store_id: Mapped[int]
    staff_id: Mapped[int]
    medium: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    order_total: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime]


class CustomerRedemptionCount(Base):
    """Per-customer redemption counter, changed by conditional statements only."""

    __tablename__ = "customer_redemption_counts"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    redeemed: Mapped[int] = mapped_column(default=0)
    # When the owner's limit was last spent or opened again: their other coupons of the
    # campaign read differently from then on (part of their passes' version).
    passes_changed_at: Mapped[datetime | None]


class AttemptCounter(Base):
    """Failed redemption attempts per subject (e.g. ``staff:12``) in fixed time windows."""

    __tablename__ = "attempt_counters"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
