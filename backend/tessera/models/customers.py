from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base, JSONType


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        # The birthday and win-back triggers find their customers through these.
        Index("ix_customers_birth_month_day", "birth_month_day", "id"),
        Index("ix_customers_last_active", "last_active_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    birthday: Mapped[date | None] = mapped_column(Date)
    locale: Mapped[str | None] = mapped_column(String(16))
    # IANA zone; None: the ``TESSERA_DEFAULT_TIMEZONE``. Birthdays fall on the local date.
    timezone: Mapped[str | None] = mapped_column(String(64))
    # ``birthday`` as month * 100 + day, so a day's birthdays are one index range in any year.
    birth_month_day: Mapped[int | None]
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    token_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    push_consent: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]
    # The customer's last activity: registration, then each redemption (kept from the event log
    # by the trigger worker, off the redemption path).
    last_active_at: Mapped[datetime | None]


class Consent(Base):
    """Append-only record of each consent decision, per purpose, with its time."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool]
    recorded_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
