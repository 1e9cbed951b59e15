"""Imports every model so ``Base.metadata`` knows all tables (for Alembic and test setup)."""

from tessera.analytics.models import AnalyticsLatency, AnalyticsState, AnalyticsTotal
from tessera.auth.models import ApiKey, CustomerSession, StaffSession, StaffUser
from tessera.campaigns.models import Campaign
from tessera.campaigns.publish_models import PublishJob
from tessera.codes.models import CodeBatch
from tessera.contests.models import (
    Contest,
    ContestCode,
    ContestCodeBatch,
    ContestCounter,
    ContestEntry,
    ContestParticipant,
    ContestPrize,
    ContestWinner,
)
from tessera.core.db.base import Base
from tessera.coupons.models import Coupon
from tessera.customers.models import Consent, Customer
from tessera.events.models import Event
from tessera.idempotency.models import IdempotencyRecord
from tessera.members.models import MemberCard
from tessera.outbox.models import OutboxMessage
from tessera.push.models import PushSubscription
from tessera.redemptions.models import AttemptCounter, CustomerRedemptionCount, Redemption
from tessera.signin.models import SignInCode
from tessera.stores.models import Store
from tessera.triggers.models import EventCursor
from tessera.wallet.apple.models import AppleDevice, AppleRegistration
from tessera.wallet.google.models import GoogleCallbackNonce, GoogleWalletObject

__all__ = [
    "AnalyticsLatency",
    "AnalyticsState",
    "AnalyticsTotal",
    "ApiKey",
    "AppleDevice",
    "AppleRegistration",
    "AttemptCounter",
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
    "MemberCard",
    "OutboxMessage",
    "PublishJob",
    "PushSubscription",
    "Redemption",
    "SignInCode",
    "StaffSession",
    "StaffUser",
    "Store",
]
