from __future__ import annotations

from datetime import datetime

import msgspec

from tessera.campaigns.schemas import CampaignSummary, Discount
from tessera.offers.refusals import CouponStatus


class CouponView(msgspec.Struct):
    id: int
    code: str
    code_display: str
    qr_payload: str
    campaign: CampaignSummary
    discount: Discount
    channel: str
    issued_at: datetime
    valid_from: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    status: CouponStatus
    qr_svg_url: str
    # Personal coupons only: unassigned print codes have no owner to download a pass.
    apple_pass_url: str | None = None
    google_wallet_url: str | None = None
