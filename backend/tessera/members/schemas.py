from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from tessera.campaigns.schemas import CampaignSummary, Discount
from tessera.core.schemas import PresentedText


class MemberCardView(msgspec.Struct):
    """The customer's own member card: what the till scans, and where its wallet passes are."""

    member_code: str
    code_display: str
    qr_payload: str
    qr_svg: str
    apple_pass_url: str
    google_wallet_url: str


class LookupInput(msgspec.Struct, forbid_unknown_fields=True):
    code: PresentedText
    # "manual" when staff typed the member number.
    entry: Literal["scan", "manual"] = "scan"


class MemberSummary(msgspec.Struct):
    """Only what a till needs to greet the member and to tell the card is theirs."""

    display_name: str | None  # first name and initial ("Ada L."); None without a name
    card_ending: str  # the member number's last four characters


class OpenCoupon(msgspec.Struct):
    coupon_id: int
    campaign: CampaignSummary
    discount: Discount
    valid_from: datetime
    expires_at: datetime
    # What to send as ``code`` to ``POST /api/redemptions``: the redemption then records the
    # medium ``member_card``.
    redeem_code: str
    # The order total its redemption must carry and reach, if the offer has a minimum.
    min_order_total: int | None = None


class MemberLookupView(msgspec.Struct):
    member: MemberSummary
    medium: str  # where the card was shown: apple_wallet, google_wallet, pwa or manual
    coupons: list[OpenCoupon]
