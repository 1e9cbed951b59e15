"""The domain services of one app, built once from its context."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.campaigns.services import CampaignService
from tessera.contests.codes import ContestCodes
from tessera.contests.draws import ContestDraws
from tessera.contests.entries import ContestEntries
from tessera.contests.keys import ContestKeys
from tessera.contests.services import ContestService
from tessera.context import AppContext
from tessera.coupons.services import CouponService
from tessera.customers.services import CustomerService
from tessera.mailmerge.services import MailMerges
from tessera.members.services import MemberCards
from tessera.push.services import PushSubscriptions
from tessera.redemptions.services import RedemptionService
from tessera.signin.services import SignIn
from tessera.stores.services import StoreService
from tessera.wallet.apple.services import ApplePasses, AppleWebService
from tessera.wallet.google.services import GoogleWallet
from tessera.wallet.links.tokens import WalletLinks


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
    wallet_links: WalletLinks
    mail_merges: MailMerges
    contests: ContestService
    contest_codes: ContestCodes
    contest_entries: ContestEntries
    contest_draws: ContestDraws
    sign_in: SignIn

    @classmethod
    def build(cls, ctx: AppContext) -> Services:
        campaigns = CampaignService(ctx.code_keys, ctx.settings.codes, ctx.settings.currency)
        apple_passes = ApplePasses.from_settings(ctx.settings, ctx.code_keys)
        google_wallet = GoogleWallet.from_settings(ctx.settings, ctx.code_keys)
        wallet_links = WalletLinks(ctx.code_keys, ctx.settings.public_url)
        contest_keys = ContestKeys(ctx.code_keys)
        contests = ContestService(contest_keys, ctx.settings.codes)
        return cls(
            campaigns=campaigns,
            customers=CustomerService(campaigns, ctx.settings.default_phone_region),
            coupons=CouponService(ctx.code_keys),
            redemptions=RedemptionService(ctx),
            stores=StoreService(ctx.passwords),
            apple_passes=apple_passes,
            apple_web=AppleWebService(apple_passes),
            google_wallet=google_wallet,
            push=PushSubscriptions(ctx.settings.push, production=ctx.settings.is_production),
            members=MemberCards(ctx, apple_passes, google_wallet),
            wallet_links=wallet_links,
            mail_merges=MailMerges(
                ctx.sessions,
                ctx.clock,
                ctx.code_keys,
                wallet_links,
                ctx.settings.public_url,
                ctx.settings.default_phone_region,
            ),
            contests=contests,
            contest_codes=ContestCodes(ctx.sessions, ctx.readers, contest_keys, ctx.bulk_codes, ctx.clock),
            contest_entries=ContestEntries(ctx, contest_keys),
            contest_draws=ContestDraws(contests, ctx.code_keys),
            sign_in=SignIn(ctx),
        )
