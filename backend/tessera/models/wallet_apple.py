from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base, BigIntId


class AppleDevice(Base):
    """A device's Wallet library as it introduced itself to the web service."""

    __tablename__ = "apple_devices"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    library_id: Mapped[str] = mapped_column(String(128), unique=True)
    push_token: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AppleRegistration(Base):
    """A pass saved on a device: "saved to Apple Wallet" until the device unregisters it."""

    __tablename__ = "apple_registrations"

    device_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("apple_devices.id", ondelete="CASCADE"),
        primary_key=True,
    )
    coupon_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("coupons.id"), primary_key=True, index=True)
    created_at: Mapped[datetime]
