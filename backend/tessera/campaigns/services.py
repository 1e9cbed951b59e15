"""Campaign rules, publishing and personal (per-message) coupons."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from msgspec import UNSET
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.campaigns.keywords import KeywordTaken, stored_keyword
from tessera.campaigns.keywords import check_free as check_keyword_free
from tessera.campaigns.rules import discount_of, is_running
from tessera.campaigns.schemas import (
    CampaignCreate,
    CampaignUpdate,
    CampaignView,
    CodeFormatView,
    Discount,
    Limits,
    LimitsUpdate,
    PersonalCouponCreate,
    Segment,
    SmsVoucher,
)
from tessera.campaigns.segments import segments_of
from tessera.campaigns.slugs import SlugTaken, check_free, free_slug, slugify
from tessera.codes.formats import ean13_campaign_digits
from tessera.codes.keys import CodeKeys
from tessera.core.clock import representable_in_utc
from tessera.core.errors import InvalidInput, InvalidValue, NotFound, Unprocessable
from tessera.core.settings import CodeSettings
from tessera.coupons.issuing import CAMPAIGN_ORIGIN, issue_coupons
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer
from tessera.models.redemptions import CustomerRedemptionCount, Redemption
from tessera.models.stores import Store
from tessera.offers.state import campaign_spent, cannot_issue
from tessera.triggers.rules import apply_trigger, check_trigger, trigger_of
from tessera.triggers.schemas import Trigger
from tessera.wallet.changes import campaign_passes_changed
from tessera.wallet.design import checked_logo, stored, view_of


class CampaignNotFound(NotFound):
    code = "campaign_not_found"
    title = "No such campaign"


class CampaignEnded(Unprocessable):
    code = "campaign_ended"
    title = "The campaign has ended"


class CampaignLocked(Unprocessable):
    code = "campaign_published"
    title = "This field cannot change once the campaign is published"


class CustomerNotEligible(Unprocessable):
    code = "customer_not_eligible"
    title = "The customer cannot receive this campaign's coupons"


def view(campaign: Campaign, now: datetime) -> CampaignView:
    status: Literal["draft", "scheduled", "running", "ended"]
    if campaign.published_at is None:
        status = "draft"
    elif now < campaign.starts_at:
        status = "scheduled"
    elif now < campaign.ends_at:
        status = "running"
    else:
        status = "ended"
    return CampaignView(
        id=campaign.id,
        name=campaign.name,
        slug=campaign.slug,
        description=campaign.description,
        discount=discount_of(campaign),
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        coupon_valid_days=campaign.coupon_valid_days,
        code=CodeFormatView(campaign.code_format, campaign.code_length, campaign.ean_prefix),
        limits=Limits(campaign.per_customer_limit, campaign.max_redemptions),
        segment=segment_view(campaign.segment),
        stores=campaign.stores,
        min_order_total=campaign.min_order_total,
        wallet=view_of(campaign.wallet_design, campaign.wallet_logo is not None),
        trigger=trigger_of(campaign),
        sms_keyword=campaign.sms_keyword,
        sms_voucher=SmsVoucher(campaign.voucher_target_id)
        if campaign.voucher_target_id is not None
        else None,
        redemption_count=campaign.redemption_count if campaign.max_redemptions is not None else None,
        published_at=campaign.published_at,
        status=status,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
    )


def _discount_currency(discount: Discount, currency: str) -> str | None:
    """The currency stored with the discount: the installation's for an amount, none otherwise
    (one currency throughout, so that revenue and discounts add up across campaigns)."""
    if discount.kind == "percent" and not 1 <= discount.value <= 100:
        raise InvalidValue("A percent discount is between 1 and 100", field="discount.value")
    if discount.kind != "amount":
        return None
    if discount.value < 1:
        raise InvalidValue("An amount discount needs a positive value", field="discount.value")
    if discount.currency not in (None, currency):
        raise InvalidValue(f"Money is counted in {currency} here", field="discount.currency")
    return currency


def _check_window(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("Times need a UTC offset (RFC 3339)", field="starts_at")
    for field, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not representable_in_utc(moment):
            raise InvalidValue("The time is out of range in UTC", field=field)
    if ends_at <= starts_at:
        raise InvalidValue("ends_at must be after starts_at", field="ends_at")


async def _checked_voucher_target(session: AsyncSession, voucher: SmsVoucher) -> int:
    """The target of an SMS voucher campaign: a campaign that is not a voucher campaign itself."""
    target = await session.get(Campaign, voucher.target_campaign_id)
    if target is None or target.voucher_target_id is not None:
        raise InvalidValue(
            "The target must be a campaign that is not an SMS voucher campaign",
            field="sms_voucher.target_campaign_id",
        )
    return target.id


async def _checked_stores(session: AsyncSession, stores: list[int] | None) -> list[int] | None:
    """The store ids in ascending order, each once; every one must be a store."""
    if stores is None:
        return None
    wanted = sorted(set(stores))
    found = set(await session.scalars(select(Store.id).where(Store.id.in_(wanted))))
    if missing := [store_id for store_id in wanted if store_id not in found]:
        raise InvalidValue(f"Store {missing[0]} does not exist", field="stores")
    return wanted


MAX_VALUES_IN = 100


async def _stored_segment(session: AsyncSession, segment: Segment) -> dict[str, Any]:
    """The segment as the campaign row keeps it (JSON), once its parts are consistent."""
    for name, values in segment.attributes_in.items():
        if not 1 <= len(values) <= MAX_VALUES_IN:
            raise InvalidValue(
                f"attributes_in lists 1 to {MAX_VALUES_IN} values", field=f"segment.attributes_in.{name}"
            )
    for name, bounds in segment.attribute_ranges.items():
        given = [bound for bound in (bounds.gte, bounds.lte) if bound is not None]
        field = f"segment.attribute_ranges.{name}"
        if not given:
            raise InvalidValue("A range needs gte, lte or both", field=field)
        if len({isinstance(bound, str) for bound in given}) > 1:
            raise InvalidValue("A range's bounds are both numbers or both dates", field=field)
        if len(given) == 2 and given[0] > given[1]:  # type: ignore[operator]
            raise InvalidValue("A range's gte is above its lte", field=field)
    if segment.stores:
        found = set(await session.scalars(select(Store.id).where(Store.id.in_(segment.stores))))
        if missing := [store_id for store_id in segment.stores if store_id not in found]:
            raise InvalidValue(f"Store {missing[0]} does not exist", field="segment.stores")
    stored: dict[str, Any] = msgspec.to_builtins(segment)
    return stored


def segment_view(stored: dict[str, Any]) -> Segment:
    return msgspec.convert(stored, Segment, strict=False)


class CampaignService:
    def __init__(self, keys: CodeKeys, codes: CodeSettings, currency: str) -> None:
        self._keys = keys
        self._codes = codes
        self._currency = currency

    async def get(self, session: AsyncSession, campaign_id: int, *, lock: bool = False) -> Campaign:
        statement = select(Campaign).where(Campaign.id == campaign_id)
        if lock:
            statement = statement.with_for_update()
        campaign = await session.scalar(statement)
        if campaign is None:
            raise CampaignNotFound(f"Campaign {campaign_id} does not exist")
        return campaign

    async def list(self, session: AsyncSession, limit: int, after_id: int) -> list[Campaign]:
        result = await session.scalars(
            select(Campaign).where(Campaign.id > after_id).order_by(Campaign.id).limit(limit)
        )
        return list(result)

    async def create(self, session: AsyncSession, data: CampaignCreate, now: datetime) -> Campaign:
        currency = _discount_currency(data.discount, self._currency)
        _check_window(data.starts_at, data.ends_at)
        ean_prefix = ean_number = None
        if data.code.format == "ean13":
            if data.code.length not in (None, 13):
                raise InvalidValue("EAN-13 codes are 13 digits long", field="code.length")
            ean_prefix = data.code.prefix or self._codes.ean_prefix
            taken = await session.scalar(select(func.max(Campaign.ean_number)))
            ean_number = (taken or 0) + 1
            if ean_number >= 10 ** ean13_campaign_digits(ean_prefix):
                raise Unprocessable("No EAN-13 campaign numbers left for this prefix")
            length = 13
        else:
            if data.code.prefix is not None:
                raise InvalidValue("A prefix applies to EAN-13 codes only", field="code.prefix")
            length = data.code.length or self._codes.random_length
        if data.trigger is not None:
            await check_trigger(session, None, data.trigger)
        stores = await _checked_stores(session, data.stores)
        campaign = Campaign(
            name=data.name,
            slug="",
            description=data.description,
            discount_kind=data.discount.kind,
            discount_value=data.discount.value,
            currency=currency,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            coupon_valid_days=data.coupon_valid_days,
            code_format=data.code.format,
            code_length=length,
            ean_prefix=ean_prefix,
            ean_number=ean_number,
            per_customer_limit=data.limits.per_customer,
            max_redemptions=data.limits.max_redemptions,
            redemption_count=0,
            next_serial=0,
            segment=await _stored_segment(session, data.segment),
            stores=stores,
            min_order_total=data.min_order_total,
            wallet_design=stored(data.wallet) if data.wallet else {},
            wallet_logo=checked_logo(data.wallet.logo_png) if data.wallet and data.wallet.logo_png else None,
            published_at=None,
            created_at=now,
            updated_at=now,
        )
        apply_trigger(campaign, data.trigger)
        if data.sms_voucher is not None:
            campaign.voucher_target_id = await _checked_voucher_target(session, data.sms_voucher)
        if data.sms_keyword is not None:
            campaign.sms_keyword = stored_keyword(data.sms_keyword)
            await check_keyword_free(session, campaign.sms_keyword)
        await self._add_with_slug(session, campaign, data.slug)
        return campaign

    async def _add_with_slug(self, session: AsyncSession, campaign: Campaign, slug: str | None) -> None:
        """Insert ``campaign`` with ``slug``, or with a free slug derived from its name (a
        concurrent create taking the same one makes this pick the next)."""
        for _ in range(5):
            if slug is not None:
                await check_free(session, slug)
            campaign.slug = slug or await free_slug(session, slugify(campaign.name))
            try:
                async with session.begin_nested():
                    session.add(campaign)
                    await session.flush()
                return
            except IntegrityError as error:
                if campaign.sms_keyword is not None:
                    await check_keyword_free(session, campaign.sms_keyword)  # a concurrent create took it
                if slug is not None:
                    raise SlugTaken(f"The slug {slug!r} belongs to another campaign", field="slug") from error
        raise SlugTaken("No free slug could be derived from the name; give one", field="slug")

    async def update(
        self, session: AsyncSession, campaign_id: int, data: CampaignUpdate, now: datetime
    ) -> Campaign:
        campaign = await self.get(session, campaign_id, lock=True)
        published = campaign.published_at is not None
        if published and data.discount is not UNSET:
            raise CampaignLocked("The discount cannot change once coupons are out", field="discount")
        if data.name is not UNSET:
            campaign.name = data.name
        if data.slug is not UNSET and data.slug != campaign.slug:
            await check_free(session, data.slug, campaign.id)
            campaign.slug = data.slug
        if data.description is not UNSET:
            campaign.description = data.description
        if data.discount is not UNSET:
            campaign.currency = _discount_currency(data.discount, self._currency)
            campaign.discount_kind = data.discount.kind
            campaign.discount_value = data.discount.value
        starts_at = campaign.starts_at if data.starts_at is UNSET else data.starts_at
        ends_at = campaign.ends_at if data.ends_at is UNSET else data.ends_at
        _check_window(starts_at, ends_at)
        if published and starts_at != campaign.starts_at:
            raise CampaignLocked("The start cannot move once coupons are out", field="starts_at")
        campaign.starts_at, campaign.ends_at = starts_at, ends_at
        if data.coupon_valid_days is not UNSET:
            campaign.coupon_valid_days = data.coupon_valid_days
        if data.segment is not UNSET:
            campaign.segment = await _stored_segment(session, data.segment)
        spent_before, per_customer_before = campaign_spent(campaign), campaign.per_customer_limit
        if data.limits is not UNSET:
            await self._change_limits(session, campaign, data.limits)
        if data.stores is not UNSET:
            campaign.stores = await _checked_stores(session, data.stores)
        if data.min_order_total is not UNSET:
            campaign.min_order_total = data.min_order_total
        if data.trigger is not UNSET:
            await self._change_trigger(session, campaign, data.trigger)
        if data.sms_keyword is not UNSET:
            keyword = None if data.sms_keyword is None else stored_keyword(data.sms_keyword)
            if keyword is not None and keyword != campaign.sms_keyword:
                await check_keyword_free(session, keyword, campaign.id)
            campaign.sms_keyword = keyword
        campaign.updated_at = now
        try:
            await session.flush()
        except IntegrityError as error:  # a concurrent change took the slug or the keyword first
            if data.sms_keyword is not UNSET and data.sms_keyword is not None:
                raise KeywordTaken(
                    "The SMS keyword belongs to another campaign", field="sms_keyword"
                ) from error
            raise SlugTaken("The slug belongs to another campaign", field="slug") from error
        if data.wallet is not UNSET:
            campaign.wallet_design = stored(data.wallet)
            if data.wallet.logo_png is not None:
                campaign.wallet_logo = checked_logo(data.wallet.logo_png)
            elif data.wallet.remove_logo:
                campaign.wallet_logo = None
            await session.flush()
        looks_changed = any(value is not UNSET for value in (data.wallet, data.name, data.description))
        # Whether its coupons can be used may change with a limit: the whole campaign's turning
        # (spent or open again), or any customer's under a new per-customer limit.
        use_changed = (
            campaign_spent(campaign) != spent_before or campaign.per_customer_limit != per_customer_before
        )
        if published and (looks_changed or use_changed):
            await campaign_passes_changed(session, campaign.id, now, open_only=not looks_changed)
        return campaign

    async def _change_trigger(
        self, session: AsyncSession, campaign: Campaign, trigger: Trigger | None
    ) -> None:
        """A published campaign keeps how it is issued (by publishing, or by which kind of
        trigger); the trigger's parameters may change."""
        kind = trigger.kind if trigger else None
        if campaign.published_at is not None and kind != campaign.trigger_kind:
            raise CampaignLocked(
                "How a campaign is issued cannot change once it is published", field="trigger"
            )
        if trigger is not None:
            await check_trigger(session, campaign, trigger)
        apply_trigger(campaign, trigger)

    async def _change_limits(self, session: AsyncSession, campaign: Campaign, limits: LimitsUpdate) -> None:
        """Counters exist only while a limit is set; setting one counts what was redeemed so far."""
        if limits.max_redemptions is not UNSET:
            if campaign.max_redemptions is None and limits.max_redemptions is not None:
                campaign.redemption_count = await self._net_redemptions(session, campaign.id)
            campaign.max_redemptions = limits.max_redemptions
        if limits.per_customer is not UNSET:
            if campaign.per_customer_limit is None and limits.per_customer is not None:
                await self._recount_customers(session, campaign.id)
            campaign.per_customer_limit = limits.per_customer

    async def _net_redemptions(self, session: AsyncSession, campaign_id: int) -> int:
        redeemed = await session.scalar(
            select(func.count()).where(Redemption.campaign_id == campaign_id, Redemption.kind == "redeem")
        )
        voided = await session.scalar(
            select(func.count()).where(Redemption.campaign_id == campaign_id, Redemption.kind == "void")
        )
        return int(redeemed or 0) - int(voided or 0)

    async def _recount_customers(self, session: AsyncSession, campaign_id: int) -> None:
        await session.execute(
            delete(CustomerRedemptionCount).where(CustomerRedemptionCount.campaign_id == campaign_id)
        )
        rows = (
            await session.execute(
                select(Redemption.customer_id, Redemption.kind, func.count())
                .where(Redemption.campaign_id == campaign_id, Redemption.customer_id.is_not(None))
                .group_by(Redemption.customer_id, Redemption.kind)
            )
        ).all()
        net: dict[int, int] = {}
        for customer_id, kind, count in rows:
            if customer_id is None:
                continue
            net[customer_id] = net.get(customer_id, 0) + (count if kind == "redeem" else -count)
        values = [
            {"campaign_id": campaign_id, "customer_id": customer_id, "redeemed": n}
            for customer_id, n in net.items()
            if n > 0
        ]
        if values:
            await session.execute(insert(CustomerRedemptionCount), values)

    async def issue_for_new_customer(self, session: AsyncSession, customer: Customer, now: datetime) -> int:
        """Coupons of every published campaign that has not ended (running, or scheduled: valid
        from its start) the customer belongs to and does not hold yet: at registration, and
        when consent or the profile changes later, exactly as publishing would have issued.
        Triggered campaigns are left to the worker (a welcome campaign fires on the
        registration event)."""
        if not customer.marketing_consent or customer.erased_at is not None:
            return 0
        campaigns = {
            campaign.id: campaign
            for campaign in await session.scalars(
                select(Campaign).where(
                    Campaign.published_at.is_not(None),
                    Campaign.ends_at > now,
                    Campaign.trigger_kind.is_(None),
                )
            )
            if cannot_issue(campaign, now) is None
        }
        await session.flush()  # the segments are asked of the customer's row as it stands now
        held = await segments_of(
            session, {campaign_id: c.segment for campaign_id, c in campaigns.items()}, customer.id
        )
        issued = 0
        for campaign_id in sorted(held):
            issued += len(
                await issue_coupons(
                    session,
                    self._keys,
                    campaigns[campaign_id],
                    [customer.id],
                    origin=CAMPAIGN_ORIGIN,
                    channel="pwa",
                    now=now,
                )
            )
        return issued

    async def issue_personal(
        self, session: AsyncSession, campaign_id: int, data: PersonalCouponCreate, now: datetime
    ) -> int:
        """One more coupon for one customer and one message (e-mail, SMS, …); returns its id."""
        campaign = await self.get(session, campaign_id)
        if not is_running(campaign, now) and not (campaign.published_at and now < campaign.ends_at):
            raise CampaignEnded("Coupons can be issued only for a published campaign that has not ended")
        customer = await session.get(Customer, data.customer_id)
        if customer is None or customer.erased_at is not None:
            raise CustomerNotEligible("No such customer", customer_id=data.customer_id)
        if not customer.marketing_consent:
            raise CustomerNotEligible("The customer has not consented to marketing")
        origin = f"message:{data.message_id}" if data.message_id else f"message:{now.timestamp()}"
        try:
            async with session.begin_nested():
                issued = await issue_coupons(
                    session, self._keys, campaign, [customer.id], origin=origin, channel=data.channel, now=now
                )
        except IntegrityError:
            issued = []
        if issued:
            return issued[0].coupon_id
        existing = await session.scalar(
            select(Coupon.id).where(
                Coupon.campaign_id == campaign.id, Coupon.customer_id == customer.id, Coupon.origin == origin
            )
        )
        if existing is None:
            raise CustomerNotEligible("The coupon could not be issued")
        return existing
