"""Imports every model so ``Base.metadata`` knows all tables (for Alembic and test setup)."""

from tessera.auth.models import ApiKey, StaffSession, StaffUser
from tessera.campaigns.models import Campaign
from tessera.codes.models import CodeBatch
from tessera.coupons.models import Coupon
from tessera.customers.models import Consent, Customer
from tessera.db.base import Base
from tessera.events.models import Event
from tessera.idempotency.models import IdempotencyRecord
from tessera.redemptions.models import AttemptCounter, CustomerRedemptionCount, Redemption
from tessera.stores.models import Store

__all__ = [
    "ApiKey",
    "AttemptCounter",
    "Base",
    "Campaign",
    "CodeBatch",
    "Consent",
    "Coupon",
    "Customer",
    "CustomerRedemptionCount",
    "Event",
    "IdempotencyRecord",
    "Redemption",
    "StaffSession",
    "StaffUser",
    "Store",
]
