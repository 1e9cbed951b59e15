"""The domain services the controllers are given, built once per app by
``tessera.assembly.services.build_services``."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.campaigns.services import CampaignService
from tessera.contests.codes import ContestCodes
from tessera.contests.draws import ContestDraws
from tessera.contests.entries import ContestEntries
from tessera.contests.services import ContestService
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
