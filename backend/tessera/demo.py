"""Demo data: a store, a staff account, a marketer key, customers and a live campaign.

Running it again keeps the data and hands out fresh credentials (only digests are stored, so
old ones cannot be shown again).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from tessera.auth.passwords import PasswordHasher
from tessera.auth.services import create_api_key
from tessera.auth.tokens import new_token, token_digest
from tessera.campaigns.publishing import publish_inline
from tessera.campaigns.schemas import CampaignCreate, CodeSpec, Discount, Limits, Segment
from tessera.campaigns.services import CampaignService
from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import Settings
from tessera.customers.schemas import ConsentInput, CustomerCreate
from tessera.customers.services import CustomerService
from tessera.models.auth import StaffUser
from tessera.models.campaigns import Campaign
from tessera.models.customers import Customer
from tessera.models.stores import Store
from tessera.stores.schemas import Location, StaffCreate, StoreCreate
from tessera.stores.services import StoreService
from tessera.wallet.design import PassTexts, WalletDesignInput

STORE_NAME = "Tessera Demo Store"
STAFF_USERNAME = "demo.staff"
CAMPAIGN_NAMES = ("Welcome: 20% off", "Coffee on us (till EAN-13)")
CUSTOMERS: tuple[tuple[str, str, list[str]], ...] = (
    ("anna@example.com", "Anna", ["coffee"]),
    ("bela@example.com", "Béla", ["coffee", "vip"]),
    ("chiara@example.com", "Chiara", []),
)


@dataclass(frozen=True, slots=True)
class DemoCredentials:
    marketer_key: str
    staff_username: str
    staff_password: str
    store_id: int
    customer_tokens: dict[str, str]
    campaign_ids: list[int]


async def load_demo(settings: Settings, clock: Clock) -> DemoCredentials:
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    keys = CodeKeys(settings.security.code_secret)
    passwords = PasswordHasher(settings.security)
    campaigns = CampaignService(keys, settings.codes, settings.currency)
    customers = CustomerService(campaigns)
    stores = StoreService(passwords)
    now = clock.now()
    try:
        async with sessions.begin() as session:
            store = await session.scalar(select(Store).where(Store.name == STORE_NAME))
            if store is None:
                store = await stores.create_store(
                    session, StoreCreate(STORE_NAME, "Europe/Budapest", Location(47.4979, 19.0402)), now
                )
            password = secrets.token_urlsafe(12)
            staff = await session.scalar(select(StaffUser).where(StaffUser.username == STAFF_USERNAME))
            if staff is None:
                await stores.create_staff(session, StaffCreate(STAFF_USERNAME, password, store.id), now)
            else:
                staff.password_hash = await passwords.hash(password)
            tokens: dict[str, str] = {}
            for email, name, tags in CUSTOMERS:
                existing = await session.scalar(select(Customer).where(Customer.email == email))
                if existing is None:
                    data = CustomerCreate(
                        consent=ConsentInput(terms=True, marketing=True, push=False),
                        email=email,
                        name=name,
                        tags=tags,
                    )
                    _, token, _ = await customers.register(session, data, now)
                else:
                    token = new_token("customer")
                    await session.execute(
                        update(Customer)
                        .where(Customer.id == existing.id)
                        .values(token_digest=token_digest(token))
                    )
                tokens[email] = token
            campaign_ids = []
            for name, code in zip(CAMPAIGN_NAMES, (CodeSpec("random"), CodeSpec("ean13")), strict=True):
                campaign = await session.scalar(select(Campaign).where(Campaign.name == name))
                if campaign is None:
                    campaign = await campaigns.create(
                        session,
                        CampaignCreate(
                            name=name,
                            description="Show this coupon at the till.",
                            discount=Discount("percent", 20)
                            if code.format == "random"
                            else Discount("free_item", 1),
                            starts_at=now - timedelta(minutes=1),
                            ends_at=now + timedelta(days=30),
                            coupon_valid_days=14,
                            code=code,
                            limits=Limits(per_customer=1),
                            segment=Segment(tags_any=["coffee"]) if code.format == "ean13" else Segment(),
                            wallet=WalletDesignInput(
                                background_color="#1F294B",
                                foreground_color="#FFFFFF",
                                label_color="#F2A65A",
                                terms="One coupon per visit. Not combinable with other offers.",
                                texts={"de": PassTexts(terms="Ein Gutschein pro Besuch.")},
                            ),
                        ),
                        now,
                    )
                await publish_inline(session, keys, campaign, now)
                campaign_ids.append(campaign.id)
            store_id = store.id
        marketer_key = await create_api_key(sessions, clock, "demo marketer", "marketer")
    finally:
        await engine.dispose()
    return DemoCredentials(marketer_key, STAFF_USERNAME, password, store_id, tokens, campaign_ids)
