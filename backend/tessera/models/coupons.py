from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base, BigIntId

_UNRECORDED_EXPIRY = "expiry_recorded_at IS NULL AND redeemed_at IS NULL AND revoked_at IS NULL"


class Coupon(Base):
    """A single code. Only a keyed digest of the code is stored (see ``tessera.codes.keys``):
    the code itself is derived again from ``(campaign_id, serial)`` for its owner, so a copy of
    the database does not hand out redeemable codes.
    """

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("campaign_id", "serial"),
        # One coupon per customer per campaign from publishing/registration; per-message codes
        # carry their own origin.
        Index("uq_coupons_campaign_customer_origin", "campaign_id", "customer_id", "origin", unique=True),
        Index("ix_coupons_customer_issued", "customer_id", "issued_at"),
        # A campaign's passes in a wallet, to tell them all of a change (``wallet.delivery``).
        Index(
            "ix_coupons_campaign_in_wallet",
            "campaign_id",
            "id",
            sqlite_where=text("wallet_added_at IS NOT NULL"),
            postgresql_where=text("wallet_added_at IS NOT NULL"),
        ),
        # Coupons whose expiry is still to be recorded (see ``coupons.expiry``).
        Index(
            "ix_coupons_expiry_unrecorded",
            "expires_at",
            sqlite_where=text("expiry_recorded_at IS NULL AND redeemed_at IS NULL AND revoked_at IS NULL"),
            postgresql_where=text(
                "expiry_recorded_at IS NULL AND redeemed_at IS NULL AND revoked_at IS NULL"
            ),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    serial: Mapped[int] = mapped_column(BigInteger)
    code_digest: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    origin: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime]
    starts_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    redemption_seq: Mapped[int] = mapped_column(default=0)
    revoked_at: Mapped[datetime | None]
    # When the wallet pass last changed other than by a redemption (void, revocation, design,
    # expiry notice); a redemption's own time is ``redeemed_at``. See ``wallet.changes``.
    pass_updated_at: Mapped[datetime | None]
    expiry_noticed_at: Mapped[datetime | None]
    push_reminded_at: Mapped[datetime | None]
    expiry_recorded_at: Mapped[datetime | None]
    # When a wallet first took the pass (Apple registration, Google save): a change looks for
    # wallet pushes only for such coupons, so most redemptions never read the wallet tables.
    wallet_added_at: Mapped[datetime | None]
