"""Every ORM model, one module per domain. Importing this package makes ``Base.metadata`` know
all tables (for Alembic and test setup). Models import only ``tessera.core``."""

from tessera.core.db.base import Base
from tessera.models.analytics import AnalyticsLatency, AnalyticsState, AnalyticsTotal
from tessera.models.audit import AuditEntry
from tessera.models.auth import ApiKey, CustomerSession, StaffSession, StaffUser
from tessera.models.campaigns import Campaign
from tessera.models.codes import CodeBatch
from tessera.models.contests import (
    Contest,
    ContestCode,
    ContestCodeBatch,
    ContestCounter,
    ContestEntry,
    ContestParticipant,
    ContestPrize,
    ContestWinner,
)
from tessera.models.coupons import Coupon
from tessera.models.customers import Consent, Customer
from tessera.models.events import Event
from tessera.models.idempotency import IdempotencyRecord
from tessera.models.mail_merges import MailMergeJob, MailMergeMessage
from tessera.models.members import MemberCard
from tessera.models.messages import MessageReceipt
from tessera.models.outbox import OutboxMessage
from tessera.models.publish_jobs import PublishJob
from tessera.models.push import PushSubscription
from tessera.models.redemptions import AttemptCounter, CustomerRedemptionCount, Redemption
from tessera.models.signin import SignInCode
from tessera.models.sms import SmsInbound, SmsVoucherCount
from tessera.models.stores import Store
from tessera.models.triggers import EventCursor
from tessera.models.wallet_apple import AppleDevice, AppleRegistration
from tessera.models.wallet_google import GoogleCallbackNonce, GoogleWalletObject

__all__ = [
    "AnalyticsLatency",
    "AnalyticsState",
    "AnalyticsTotal",
    "ApiKey",
    "AppleDevice",
    "AppleRegistration",
    "AttemptCounter",
    "AuditEntry",
    "Base",
    "Campaign",
    "CodeBatch",
    "Consent",
    "Contest",
    "ContestCode",
    "ContestCodeBatch",
    "ContestCounter",
    "ContestEntry",
    "ContestParticipant",
    "ContestPrize",
    "ContestWinner",
    "Coupon",
    "Customer",
    "CustomerRedemptionCount",
    "CustomerSession",
    "Event",
    "EventCursor",
    "GoogleCallbackNonce",
    "GoogleWalletObject",
    "IdempotencyRecord",
    "MailMergeJob",
    "MailMergeMessage",
    "MemberCard",
    "MessageReceipt",
    "OutboxMessage",
    "PublishJob",
    "PushSubscription",
    "Redemption",
    "SignInCode",
    "SmsInbound",
    "SmsVoucherCount",
    "StaffSession",
    "StaffUser",
    "Store",
]
