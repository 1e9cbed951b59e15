"""The domain services of one app, built once from its context."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.campaigns.services import CampaignService
from tessera.context import AppContext
from tessera.coupons.services import CouponService
from tessera.customers.services import CustomerService
from tessera.redemptions.services import RedemptionService
from tessera.stores.services import StoreService


@dataclass(frozen=True, slots=True)
class Services:
    campaigns: CampaignService
    customers: CustomerService
    coupons: CouponService
    redemptions: RedemptionService
    stores: StoreService

    @classmethod
    def build(cls, ctx: AppContext) -> Services:
        campaigns = CampaignService(ctx.code_keys, ctx.settings.codes)
        return cls(
            campaigns=campaigns,
            customers=CustomerService(campaigns),
            coupons=CouponService(ctx.code_keys),
            redemptions=RedemptionService(ctx),
            stores=StoreService(ctx.passwords),
        )
