"""The domain services of one app, built once from its context."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.campaigns.services import CampaignService
from tessera.context import AppContext
from tessera.coupons.services import CouponService
from tessera.customers.services import CustomerService
from tessera.members.services import MemberCards
from tessera.push.services import PushSubscriptions
from tessera.redemptions.services import RedemptionService
from tessera.signin.services import SignIn
from tessera.stores.services import StoreService
from tessera.wallet.apple.services import ApplePasses, AppleWebService
from tessera.wallet.google.services import GoogleWallet


@dataclass(frozen=True, slots=True)
class Services:
    campaigns: CampaignService
    customers: CustomerService
    coupons: CouponService
    redemptions: RedemptionService
    stores: StoreService
    apple_passes: ApplePasses
    apple_web: AppleWebService
    google_wallet: GoogleWallet
    push: PushSubscriptions
    members: MemberCards
    sign_in: SignIn

    @classmethod
    def build(cls, ctx: AppContext) -> Services:
        campaigns = CampaignService(ctx.code_keys, ctx.settings.codes)
        apple_passes = ApplePasses.from_settings(ctx.settings, ctx.code_keys)
        google_wallet = GoogleWallet.from_settings(ctx.settings, ctx.code_keys)
        return cls(
            campaigns=campaigns,
            customers=CustomerService(campaigns),
            coupons=CouponService(ctx.code_keys),
            redemptions=RedemptionService(ctx),
            stores=StoreService(ctx.passwords),
            apple_passes=apple_passes,
            apple_web=AppleWebService(apple_passes),
            google_wallet=google_wallet,
            push=PushSubscriptions(ctx.settings.push, production=ctx.settings.is_production),
            members=MemberCards(ctx, apple_passes, google_wallet),
            sign_in=SignIn(ctx),
        )
