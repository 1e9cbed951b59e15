"""Background work of one process: the outbox deliveries and the periodic jobs.

``create_app`` runs it inside the app process when ``TESSERA_WORKER_EMBEDDED`` is on (the
default: one command, embedded SQLite); ``tessera worker`` runs it on its own, for deployments
where app processes only serve HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tessera.analytics.rollup import Rollup
from tessera.assembly.services import Services
from tessera.contests.notices import CONTEST_PRIZE_MESSAGE, ContestPrizeMessages
from tessera.contests.prizes import CONTEST_PRIZE, ContestPrizePush
from tessera.core.errors import ConfigurationError
from tessera.coupons.expiry import ExpiryRecorder
from tessera.http.context import AppContext
from tessera.mailmerge.delivery import MergeDelivery
from tessera.mailmerge.jobs import MERGE_MESSAGE
from tessera.messages.coupon_notices import CouponNotices
from tessera.messages.senders import sender_for
from tessera.outbox.worker import OutboxWorker, running
from tessera.push.sender import WebPushSender
from tessera.push.services import EXPIRY_REMINDER, NEW_OFFER, PushDelivery
from tessera.signin.delivery import SignInDelivery
from tessera.signin.services import SIGN_IN_CODE
from tessera.sms.delivery import SmsReplies
from tessera.sms.retention import OldNumbers
from tessera.sms.writers import SMS_REPLY
from tessera.triggers.events import EventTriggers
from tessera.triggers.issuing import TRIGGER_MESSAGE
from tessera.triggers.timed import TimedTriggers
from tessera.wallet.apple.apns import ApnsClient
from tessera.wallet.changes import APPLE_PUSH, CAMPAIGN_PASSES, GOOGLE_STATE
from tessera.wallet.delivery import WalletDelivery
from tessera.wallet.google.api import HttpGoogleWalletApi


def _settle_seconds(ctx: AppContext) -> float:
    """SQLite assigns event ids in commit order; on PostgreSQL followers of the event log wait a
    second behind the transactions that were running (see ``AnalyticsState``)."""
    return 0.0 if ctx.settings.database.is_sqlite else 1.0


def rollup_of(ctx: AppContext) -> Rollup:
    return Rollup(
        ctx.sessions,
        ctx.clock,
        readers=ctx.readers,
        sqlite_writer=ctx.sqlite_writer,
        settle_seconds=_settle_seconds(ctx),
    )


def event_triggers_of(ctx: AppContext) -> EventTriggers:
    return EventTriggers(
        ctx.sessions,
        ctx.readers,
        ctx.clock,
        ctx.code_keys,
        sqlite_writer=ctx.sqlite_writer,
        settle_seconds=_settle_seconds(ctx),
    )


def timed_triggers_of(ctx: AppContext) -> TimedTriggers:
    return TimedTriggers(ctx.sessions, ctx.readers, ctx.clock, ctx.code_keys, ctx.settings.default_timezone)


@asynccontextmanager
async def background_work(
    ctx: AppContext, services: Services, *, embedded_only: bool
) -> AsyncIterator[OutboxWorker | None]:
    """Build the worker; run it in the background unless ``embedded_only`` and embedding is off."""
    if embedded_only and not ctx.settings.worker.embedded:
        yield None
        return
    async with worker_for(ctx, services) as worker, running(worker):
        yield worker


@asynccontextmanager
async def worker_for(ctx: AppContext, services: Services) -> AsyncIterator[OutboxWorker]:
    """The worker of this process with its delivery clients, closed on exit (not started).

    Every job is safe in any number of processes at once: outbox rows are leased
    (``Outbox.claim``), the periodic jobs mark what they did with conditional updates, the
    rollup and the event triggers move their watermarks conditionally, triggered coupons are
    one per customer by a unique index, and a code batch is written by the one process that
    claims it (``BulkCodes.resume_unfinished``), and so is a publish job
    (``Publisher.resume_unfinished``) and a sent mail merge (``MergeJobs.resume_unfinished``).
    """
    settings = ctx.settings
    apple = settings.apple
    if apple.cert_path is None or apple.key_path is None:
        raise ConfigurationError("No pass certificate: set TESSERA_APPLE_* (or use tessera.assembly.devkit)")
    apns = ApnsClient(
        apple.apns_url,
        cert_path=apple.cert_path,
        key_path=apple.key_path,
        key_password=apple.key_password,
        topic=apple.pass_type_identifier,
        ca_path=apple.apns_ca_path,
    )
    google = HttpGoogleWalletApi(settings.google.api_url, services.google_wallet.account)
    delivery = WalletDelivery(
        ctx.sessions,
        ctx.readers,
        ctx.clock,
        apns,
        google,
        services.apple_web,
        settings.worker.expiry_notice_hours,
    )
    sender = WebPushSender(settings.push.vapid_private_key, settings.push.vapid_subject)
    push = PushDelivery(ctx.sessions, ctx.readers, ctx.clock, sender, settings.push)
    contest_push = ContestPrizePush(ctx.sessions, ctx.readers, ctx.clock, sender, settings.push)
    messages = sender_for(settings.messages, ctx.clock, production=settings.is_production)
    sign_in = SignInDelivery(
        ctx.readers,
        ctx.clock,
        services.sign_in.keys,
        messages,
        code_minutes=settings.sign_in.code_minutes,
        public_url=settings.public_url,
    )
    prize_messages = ContestPrizeMessages(
        ctx.readers, messages, ctx.code_keys, services.wallet_links, ctx.clock
    )
    coupon_notices = CouponNotices(
        ctx.readers, messages, ctx.code_keys, services.wallet_links, services.unsubscribe_links, ctx.clock
    )
    sms_replies = SmsReplies(
        ctx.readers, ctx.clock, messages, ctx.code_keys, services.wallet_links, public_url=settings.public_url
    )
    merge_messages = MergeDelivery(
        ctx.readers,
        messages,
        ctx.code_keys,
        services.wallet_links,
        services.unsubscribe_links,
        ctx.clock,
        public_url=settings.public_url,
    )
    worker = OutboxWorker(
        ctx.outbox,
        {
            APPLE_PUSH: delivery.apple_push,
            GOOGLE_STATE: delivery.google_state,
            CAMPAIGN_PASSES: delivery.campaign_passes,
            NEW_OFFER: push.deliver,
            EXPIRY_REMINDER: push.deliver,
            CONTEST_PRIZE: contest_push.deliver,
            CONTEST_PRIZE_MESSAGE: prize_messages.deliver,
            TRIGGER_MESSAGE: coupon_notices.deliver,
            SIGN_IN_CODE: sign_in.deliver,
            SMS_REPLY: sms_replies.deliver,
            MERGE_MESSAGE: merge_messages.deliver,
        },
        settings.worker,
        jobs=[
            delivery.notice_expiring,
            push.remind_expiring,
            ExpiryRecorder(ctx.sessions, ctx.clock).run,
            ctx.bulk_codes.resume_unfinished,
            ctx.publishing.resume_unfinished,
            services.mail_merge_jobs.resume_unfinished,
            services.contest_codes.resume_unfinished,
            timed_triggers_of(ctx).run,
            services.sign_in.forget_spent_codes,
            OldNumbers(ctx.sessions, ctx.readers, ctx.clock, settings.sms.number_days).forget,
        ],
        prefetch={NEW_OFFER: push.prefetch, EXPIRY_REMINDER: push.prefetch, SMS_REPLY: sms_replies.prefetch},
        # Welcome and next-step coupons follow their event within a second or so.
        frequent_jobs=[rollup_of(ctx).run, event_triggers_of(ctx).run],
    )
    try:
        yield worker
    finally:
        await apns.aclose()
        await google.aclose()
        await sender.aclose()
        await messages.aclose()
