"""Builds the domain services of one app from its context, each given only its collaborators."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.campaigns.services import CampaignService
from tessera.contests.codes import ContestCodes
from tessera.contests.draws import ContestDraws
from tessera.contests.entries import ContestEntries
from tessera.contests.keys import ContestKeys
from tessera.contests.services import ContestService
from tessera.coupons.services import CouponService
from tessera.customers.services import CustomerService
from tessera.customers.unsubscribe import UnsubscribeLinks
from tessera.http.context import AppContext
from tessera.mailmerge.jobs import POSTGRES_CHUNK, SQLITE_CHUNK, MergeJobs
from tessera.mailmerge.services import MailMerges
from tessera.members.services import MemberCards
from tessera.messages.receipts import MessageReceipts
from tessera.push.services import PushSubscriptions
from tessera.redemptions.services import RedemptionService
from tessera.signin.services import SignIn
from tessera.sms.service import SmsInbox
from tessera.stores.services import StoreService
from tessera.wallet.apple.services import ApplePasses, AppleWebService
from tessera.wallet.google.services import GoogleWallet
from tessera.wallet.links.tokens import WalletLinks


@dataclass(frozen=True, slots=True)
class Services:
    """Built in one place because several share collaborators (the wallet builders, the contest
    keys). ``create_app`` offers each to the route handlers as a dependency named as its field,
    so a handler declares only the services it uses."""

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
    unsubscribe_links: UnsubscribeLinks
    mail_merges: MailMerges
    mail_merge_jobs: MergeJobs
    contests: ContestService
    contest_codes: ContestCodes
    contest_entries: ContestEntries
    contest_draws: ContestDraws
    sign_in: SignIn
    sms_inbox: SmsInbox
    message_receipts: MessageReceipts


def build_services(ctx: AppContext) -> Services:
    campaigns = CampaignService(ctx.code_keys, ctx.settings.codes, ctx.settings.currency)
    apple_passes = ApplePasses.from_settings(ctx.settings, ctx.code_keys)
    google_wallet = GoogleWallet.from_settings(ctx.settings, ctx.code_keys)
    wallet_links = WalletLinks(ctx.code_keys, ctx.settings.public_url)
    contest_keys = ContestKeys(ctx.code_keys)
    contests = ContestService(contest_keys, ctx.settings.codes)
    contest_entries = ContestEntries(
        keys=contest_keys,
        code_keys=ctx.code_keys,
        ledger=ctx.ledger,
        idempotency=ctx.idempotency,
        throttles=ctx.settings.throttle,
        clock=ctx.clock,
    )
    return Services(
        campaigns=campaigns,
        customers=CustomerService(campaigns, ctx.settings.default_phone_region),
        coupons=CouponService(ctx.code_keys),
        redemptions=RedemptionService(
            ctx.sessions, ctx.ledger, ctx.code_keys, ctx.throttles, ctx.clock, ctx.settings.currency
        ),
        stores=StoreService(ctx.passwords),
        apple_passes=apple_passes,
        apple_web=AppleWebService(apple_passes),
        google_wallet=google_wallet,
        push=PushSubscriptions(ctx.settings.push, production=ctx.settings.is_production),
        members=MemberCards(
            sessions=ctx.sessions,
            readers=ctx.readers,
            ledger=ctx.ledger,
            code_keys=ctx.code_keys,
            throttles=ctx.throttles,
            clock=ctx.clock,
            settings=ctx.settings,
            apple=apple_passes,
            google=google_wallet,
        ),
        wallet_links=wallet_links,
        unsubscribe_links=UnsubscribeLinks(ctx.code_keys, ctx.settings.public_url),
        mail_merges=MailMerges(
            ctx.sessions,
            ctx.clock,
            ctx.code_keys,
            wallet_links,
            ctx.settings.public_url,
            ctx.settings.default_phone_region,
        ),
        mail_merge_jobs=MergeJobs(
            ctx.sessions,
            ctx.readers,
            ctx.code_keys,
            ctx.bulk_codes.claim,
            ctx.clock,
            chunk=SQLITE_CHUNK if ctx.settings.database.is_sqlite else POSTGRES_CHUNK,
            phone_region=ctx.settings.default_phone_region,
        ),
        contests=contests,
        contest_codes=ContestCodes(ctx.sessions, ctx.readers, contest_keys, ctx.bulk_codes, ctx.clock),
        contest_entries=contest_entries,
        contest_draws=ContestDraws(contests, ctx.code_keys),
        sign_in=SignIn(
            sessions=ctx.sessions,
            readers=ctx.readers,
            ledger=ctx.ledger,
            authenticator=ctx.authenticator,
            clock=ctx.clock,
            settings=ctx.settings.sign_in,
            code_secret=ctx.settings.security.code_secret,
            phone_region=ctx.settings.default_phone_region,
        ),
        sms_inbox=SmsInbox(
            ctx.sessions,
            ctx.clock,
            ctx.code_keys,
            contest_entries,
            ctx.ledger,
            ctx.settings.default_phone_region,
            ctx.settings.sms.vouchers_per_number,
            ctx.sms_writer,
        ),
        message_receipts=MessageReceipts(ctx.sessions, ctx.clock),
    )
