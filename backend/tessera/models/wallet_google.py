from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base


class GoogleWalletObject(Base):
    """The Google Wallet offer object of a coupon, from its first save link on."""

    __tablename__ = "google_wallet_objects"

    coupon_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("coupons.id"), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    saved_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]


class GoogleCallbackNonce(Base):
    """Nonces of callbacks already handled: Google may deliver one callback more than once."""

    __tablename__ = "google_callback_nonces"

    nonce: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime]
