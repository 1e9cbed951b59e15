from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from tessera.campaigns.schemas import CampaignSummary, Discount
from tessera.core.schemas import PresentedText


class RedeemInput(msgspec.Struct, forbid_unknown_fields=True):
    code: PresentedText
    order_total: Annotated[int, msgspec.Meta(ge=0, le=10**12)] | None = None
    # "manual" when staff typed the code; the medium is then recorded as manual.
    entry: Literal["scan", "manual"] = "scan"


class ValidateInput(msgspec.Struct, forbid_unknown_fields=True):
    code: PresentedText
    entry: Literal["scan", "manual"] = "scan"
    # Given: the minimum order is judged as the redemption would; absent: not yet.
    order_total: Annotated[int, msgspec.Meta(ge=0, le=10**12)] | None = None


class StoreView(msgspec.Struct):
    id: int
    name: str


class ValidationView(msgspec.Struct):
    coupon_id: int
    campaign: CampaignSummary
    discount: Discount
    valid_from: datetime
    expires_at: datetime
    medium: str
    # The order total a redemption must carry and reach (minor units), if the offer has one.
    min_order_total: int | None = None
    # The stores whose tills may redeem it (None: every store); this till is one of them.
    stores: list[StoreView] | None = None
    # The installation's currency, in which order totals are counted.
    currency: str = "EUR"


class RedemptionView(msgspec.Struct):
    """The answer to a redemption, as each ledger writes it (``ledger.success_body``)."""

    id: int
    coupon_id: int
    campaign_id: int
    redeemed_at: datetime
    store_id: int
    staff_id: int
    medium: str
    channel: str
    order_total: int | None
    discount: Discount


class VoidView(msgspec.Struct):
    id: int
    redemption_id: int
    coupon_id: int
    voided_at: datetime
