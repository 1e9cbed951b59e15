from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base, JSONType, NullableJSON


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        # Stored in upper case (``tessera.sms.keywords``), so unique case-insensitively.
        Index("uq_campaigns_sms_keyword", "sms_keyword", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # How message templates name the campaign (``campaigns.slugs``).
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    discount_kind: Mapped[str] = mapped_column(String(16))
    discount_value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    coupon_valid_days: Mapped[int | None]
    code_format: Mapped[str] = mapped_column(String(16))
    code_length: Mapped[int]
    ean_prefix: Mapped[str | None] = mapped_column(String(3))
    ean_number: Mapped[int | None] = mapped_column(unique=True)
    per_customer_limit: Mapped[int | None]
    max_redemptions: Mapped[int | None]
    redemption_count: Mapped[int] = mapped_column(default=0)
    # Store ids whose tills may redeem (None: every store), and the order total in minor units a
    # redemption must reach (see ``tessera.offers.rules``).
    stores: Mapped[list[int] | None] = mapped_column(NullableJSON)
    min_order_total: Mapped[int | None] = mapped_column(BigInteger)
    next_serial: Mapped[int] = mapped_column(BigInteger, default=0)
    segment: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    published_at: Mapped[datetime | None]
    # Set: coupons are issued by the worker when the trigger fires, never by publishing (see
    # ``tessera.triggers``). ``trigger_campaign_id`` names the campaign whose coupons the trigger
    # watches (on_redemption, before_expiry); the service checks it exists, and campaigns are
    # never deleted, so there is no foreign key.
    trigger_kind: Mapped[str | None] = mapped_column(String(16))
    trigger_campaign_id: Mapped[int | None]
    trigger_days: Mapped[int | None]
    trigger_hours: Mapped[int | None]
    trigger_channel: Mapped[str | None] = mapped_column(String(8))  # None: push
    # Colours, texts and languages of the wallet passes (``wallet.design.WalletDesign``).
    wallet_design: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")
    wallet_logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    # When every pass of the campaign last changed at once: its redemptions spent or freed again,
    # a limit or its look changed. Part of each pass's version (``wallet.apple.services``).
    passes_changed_at: Mapped[datetime | None]
    # The word a customer texts to receive this campaign's coupon (``tessera.sms``).
    sms_keyword: Mapped[str | None] = mapped_column(String(32))
    # Set: an SMS voucher campaign, whose printed codes are texted in and exchanged for a personal
    # coupon of this campaign (``tessera.sms``); campaigns are never deleted, so no foreign key.
    voucher_target_id: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
