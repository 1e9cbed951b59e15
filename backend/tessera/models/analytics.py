"""Rollups of the event log: all-time figures per campaign (and for all campaigns together) per
channel, medium, store (and campaign), kept up to date by the worker from a watermark. Readers add
the events after the watermark themselves, so nothing written is ever missing from a figure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base

ALL_CAMPAIGNS = 0  # the ``scope`` of rows that add up every campaign


class AnalyticsTotal(Base):
    """One event type's figures for one key of one dimension, in one scope."""

    __tablename__ = "analytics_totals"

    scope: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # campaign id or ALL_CAMPAIGNS
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(32), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    # Events that were the coupon's first of their type (distinct coupons, additive over time).
    firsts: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)


class AnalyticsLatency(Base):
    """Time-to-redeem histogram of one key (see ``analytics.sketch``): redemptions add one to
    their bucket, voids take the cancelled redemption's one away. One row per key, the buckets
    packed (``sketch.pack``), so a read takes a handful of rows, not hundreds per key."""

    __tablename__ = "analytics_latency"

    scope: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    buckets: Mapped[bytes] = mapped_column(LargeBinary)


class AnalyticsState(Base):
    """The single row saying which events the rollups hold.

    ``rolled_up_to``: every event with a lower or equal id is in the rollups. ``candidate_*``: the
    highest id seen at the last run, with the next PostgreSQL transaction id at that moment; it is
    rolled up once every transaction that was running then has ended, so an id taken by a
    transaction that commits late is never skipped."""

    __tablename__ = "analytics_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    rolled_up_to: Mapped[int] = mapped_column(BigInteger)
    candidate_id: Mapped[int] = mapped_column(BigInteger)
    candidate_xid: Mapped[int] = mapped_column(BigInteger)
    candidate_at: Mapped[datetime]
