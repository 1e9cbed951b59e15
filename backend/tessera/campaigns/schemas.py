from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from tessera.campaigns.keywords import Keyword
from tessera.campaigns.slugs import Slug
from tessera.core.schemas import MAX_INT, AttributeValue, Id, LongText, ShortText, Tag
from tessera.triggers.schemas import Trigger
from tessera.wallet.design import WalletDesignInput, WalletDesignView

Positive = Annotated[int, msgspec.Meta(ge=1, le=MAX_INT)]


DiscountKind = Literal["percent", "amount", "free_item"]


class Discount(msgspec.Struct, forbid_unknown_fields=True):
    kind: DiscountKind
    value: Annotated[int, msgspec.Meta(ge=0, le=10**12)]
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] | None = None


class CodeSpec(msgspec.Struct, forbid_unknown_fields=True):
    format: Literal["random", "ean13"] = "random"
    length: Annotated[int, msgspec.Meta(ge=14, le=24)] | None = None
    prefix: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,3}$")] | None = None


class Limits(msgspec.Struct, forbid_unknown_fields=True):
    per_customer: Positive | None = 1
    max_redemptions: Positive | None = None


StoreIds = Annotated[list[Id], msgspec.Meta(min_length=1, max_length=1000)]
MinorUnits = Annotated[int, msgspec.Meta(ge=1, le=10**12)]


TagList = Annotated[list[Tag], msgspec.Meta(max_length=50)]
IsoDate = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
Bound = Annotated[float, msgspec.Meta(ge=-(10**15), le=10**15)] | IsoDate


class ValueRange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Inclusive bounds, both numbers or both ISO dates (``YYYY-MM-DD``); at least one."""

    gte: Bound | None = None
    lte: Bound | None = None


class Segment(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Who a campaign reaches: every part given must hold (``tessera.campaigns.segments``)."""

    tags_any: TagList = msgspec.field(default_factory=list)
    tags_all: TagList = msgspec.field(default_factory=list)
    tags_none: TagList = msgspec.field(default_factory=list)
    attributes: Annotated[dict[Tag, AttributeValue], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=dict
    )
    # 1 to 100 values each (checked with the segment: the document cannot state a bound on a
    # map's values).
    attributes_in: Annotated[dict[Tag, list[AttributeValue]], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=dict
    )
    attribute_ranges: Annotated[dict[Tag, ValueRange], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=dict
    )
    registered_after: datetime | None = None
    registered_before: datetime | None = None
    active_after: datetime | None = None
    active_before: datetime | None = None
    stores: Annotated[list[Id], msgspec.Meta(max_length=1000)] = msgspec.field(default_factory=list)


class SmsVoucher(msgspec.Struct, forbid_unknown_fields=True):
    """The campaign whose personal coupon each printed code of this one is exchanged for."""

    target_campaign_id: Id


class CampaignCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: ShortText
    discount: Discount
    starts_at: datetime
    ends_at: datetime
    description: LongText = ""
    coupon_valid_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    code: CodeSpec = msgspec.field(default_factory=CodeSpec)
    limits: Limits = msgspec.field(default_factory=Limits)
    segment: Segment = msgspec.field(default_factory=Segment)
    # The stores whose tills may redeem (absent: every store) and the order total a redemption
    # must carry and reach, in minor units of the installation's currency.
    stores: StoreIds | None = None
    min_order_total: MinorUnits | None = None
    wallet: WalletDesignInput | None = None
    # Derived from the name when not given.
    slug: Slug | None = None
    # Issued by the worker when the trigger fires; publishing only switches the campaign on.
    trigger: Trigger | None = None
    # Texted to the SMS number, it gets the customer this campaign's coupon.
    sms_keyword: Keyword | None = None
    # Its printed codes (``POST /api/campaigns/{id}/codes``), texted in, are exchanged for a
    # personal coupon of the target campaign. Fixed at creation.
    sms_voucher: SmsVoucher | None = None


class LimitsUpdate(msgspec.Struct, forbid_unknown_fields=True):
    per_customer: Positive | msgspec.UnsetType | None = msgspec.UNSET
    max_redemptions: Positive | msgspec.UnsetType | None = msgspec.UNSET


class CampaignUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: ShortText | msgspec.UnsetType = msgspec.UNSET
    description: LongText | msgspec.UnsetType = msgspec.UNSET
    discount: Discount | msgspec.UnsetType = msgspec.UNSET
    starts_at: datetime | msgspec.UnsetType = msgspec.UNSET
    ends_at: datetime | msgspec.UnsetType = msgspec.UNSET
    coupon_valid_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | msgspec.UnsetType | None = msgspec.UNSET
    limits: LimitsUpdate | msgspec.UnsetType = msgspec.UNSET
    segment: Segment | msgspec.UnsetType = msgspec.UNSET
    # null: every store / no minimum.
    stores: StoreIds | msgspec.UnsetType | None = msgspec.UNSET
    min_order_total: MinorUnits | msgspec.UnsetType | None = msgspec.UNSET
    # Replaces the whole design; the logo stays unless ``logo_png`` or ``remove_logo`` is given.
    wallet: WalletDesignInput | msgspec.UnsetType = msgspec.UNSET
    slug: Slug | msgspec.UnsetType = msgspec.UNSET
    # null removes it; once published, only the parameters (not the kind) may change.
    trigger: Trigger | msgspec.UnsetType | None = msgspec.UNSET
    # null removes it.
    sms_keyword: Keyword | msgspec.UnsetType | None = msgspec.UNSET


class CodeFormatView(msgspec.Struct):
    format: str
    length: int
    prefix: str | None


class CampaignView(msgspec.Struct):
    id: int
    name: str
    slug: str
    description: str
    discount: Discount
    starts_at: datetime
    ends_at: datetime
    coupon_valid_days: int | None
    code: CodeFormatView
    limits: Limits
    segment: Segment
    stores: list[int] | None
    min_order_total: int | None
    wallet: WalletDesignView
    trigger: Trigger | None
    sms_keyword: str | None
    sms_voucher: SmsVoucher | None
    redemption_count: int | None
    published_at: datetime | None
    status: Literal["draft", "scheduled", "running", "ended"]
    created_at: datetime
    updated_at: datetime


class CampaignSummary(msgspec.Struct):
    id: int
    name: str
    description: str


class PersonalCouponCreate(msgspec.Struct, forbid_unknown_fields=True):
    customer_id: Id
    channel: Annotated[str, msgspec.Meta(pattern=r"^(pwa|push|email|sms|print|api)$")] = "api"
    message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
