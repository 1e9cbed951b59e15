"""One table of (coupon state, campaign terms, request) → verdict, and every implementation of
the offer rules held to it: the SQLite ledger, the PostgreSQL ledger (``tessera_redeem``), the
naive read-check-then-write oracle, and validate (``offers.state`` read, ``offers.rules`` decide).

Each case is seeded twice, so the ledgers that change what they decide on each get a copy as
the table describes it; validate reads the first copy before any ledger runs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.assembly.raw_store import open_raw_store
from tessera.core.clock import rfc3339
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import DatabaseSettings
from tessera.models.auth import StaffUser
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer
from tessera.models.redemptions import CustomerRedemptionCount, Redemption
from tessera.models.stores import Store
from tessera.offers.errors import REFUSAL_ERRORS
from tessera.offers.refusals import BY_CODE
from tessera.offers.rules import Attempt, OfferTerms, decide, limit_refusal
from tessera.offers.state import limits_open, presented
from tessera.redemptions.ledger import Outcome, RedeemRequest, RedemptionLedger, ThrottleRule
from tessera.redemptions.ledger_postgres import create_pool
from tests.oracles.naive_ledger import NaiveLedger
from tests.support.fixed_values import START

NOW = START + timedelta(days=10)
BRERA, NAVIGLI, CORSO = 1, 2, 3  # the till redeems at BRERA unless a case says otherwise
STORE_NAMES = {BRERA: "Brera", NAVIGLI: "Navigli", CORSO: "Corso Como"}
THROTTLE = ThrottleRule((("scans", 10**6),), 300)


@dataclass(frozen=True)
class CouponSetup:
    starts_at: datetime = START
    expires_at: datetime = NOW + timedelta(days=5)
    redeemed_at_store: int | None = None  # redeemed there at START + 1 day
    voided: bool = False  # a redemption made undone: usable again
    revoked: bool = False
    erased_owner: bool = False  # erasure revokes the owner's open coupons
    owner: bool = True  # False: an unassigned print code


@dataclass(frozen=True)
class TermsSetup:
    stores: list[int] | None = None
    min_order_total: int | None = None
    max_redemptions: int | None = None
    redemption_count: int = 0
    per_customer_limit: int | None = None
    customer_redeemed: int = 0


@dataclass(frozen=True)
class Case:
    name: str
    expected: tuple[int, dict[str, Any]]  # status and refusal body; 201: only ``code`` absent
    coupon: CouponSetup = field(default_factory=CouponSetup)
    terms: TermsSetup = field(default_factory=TermsSetup)
    store_id: int = BRERA
    order_total: int | None = None


REDEEMED_AT = START + timedelta(days=1)
OK: tuple[int, dict[str, Any]] = (201, {})
CASES = [
    Case("usable", OK),
    Case("print code, no owner", OK, CouponSetup(owner=False), TermsSetup(per_customer_limit=1)),
    Case("unknown code", (404, {"code": "invalid_code"})),
    Case("revoked", (404, {"code": "invalid_code"}), CouponSetup(revoked=True)),
    Case("erased owner", (404, {"code": "invalid_code"}), CouponSetup(erased_owner=True)),
    Case(
        "already redeemed (the code's own limit)",
        (
            409,
            {
                "code": "already_redeemed",
                "redeemed_at": rfc3339(REDEEMED_AT),
                "store_id": NAVIGLI,
                "store_name": "Navigli",
            },
        ),
        CouponSetup(redeemed_at_store=NAVIGLI),
    ),
    Case("redeemed then voided", OK, CouponSetup(redeemed_at_store=NAVIGLI, voided=True)),
    Case(
        "expired",
        (410, {"code": "expired", "expired_at": rfc3339(NOW - timedelta(hours=1))}),
        CouponSetup(expires_at=NOW - timedelta(hours=1)),
    ),
    Case(
        "expires this instant",
        (410, {"code": "expired", "expired_at": rfc3339(NOW)}),
        CouponSetup(expires_at=NOW),
    ),
    Case(
        "not yet valid",
        (422, {"code": "not_yet_valid", "valid_from": rfc3339(NOW + timedelta(hours=2))}),
        CouponSetup(starts_at=NOW + timedelta(hours=2)),
    ),
    Case("valid from this instant", OK, CouponSetup(starts_at=NOW)),
    Case("at one of its stores", OK, terms=TermsSetup(stores=[NAVIGLI, BRERA])),
    Case(
        "another store's till",
        (
            422,
            {
                "code": "wrong_store",
                "stores": [{"id": NAVIGLI, "name": "Navigli"}, {"id": CORSO, "name": "Corso Como"}],
            },
        ),
        terms=TermsSetup(stores=[CORSO, NAVIGLI]),
    ),
    Case("order at the minimum", OK, terms=TermsSetup(min_order_total=2000), order_total=2000),
    Case(
        "order below the minimum",
        (422, {"code": "below_minimum", "min_order_total": 2000, "order_total": 1999}),
        terms=TermsSetup(min_order_total=2000),
        order_total=1999,
    ),
    Case(
        "no order total where a minimum applies",
        (422, {"code": "below_minimum", "min_order_total": 2000, "order_total": None}),
        terms=TermsSetup(min_order_total=2000),
    ),
    Case(
        "campaign limit spent",
        (422, {"code": "limit_reached", "limit": "campaign"}),
        terms=TermsSetup(max_redemptions=3, redemption_count=3),
    ),
    Case("campaign limit not spent", OK, terms=TermsSetup(max_redemptions=3, redemption_count=2)),
    Case(
        "customer limit spent",
        (422, {"code": "limit_reached", "limit": "customer"}),
        terms=TermsSetup(per_customer_limit=2, customer_redeemed=2),
    ),
    Case("customer limit not spent", OK, terms=TermsSetup(per_customer_limit=2, customer_redeemed=1)),
    # Precedence: the coupon's own state, then the terms at this till, then the limits.
    Case(
        "expired at another store",
        (410, {"code": "expired", "expired_at": rfc3339(NOW - timedelta(hours=1))}),
        CouponSetup(expires_at=NOW - timedelta(hours=1)),
        TermsSetup(stores=[NAVIGLI]),
    ),
    Case(
        "another store's till, below the minimum",
        (422, {"code": "wrong_store", "stores": [{"id": NAVIGLI, "name": "Navigli"}]}),
        terms=TermsSetup(stores=[NAVIGLI], min_order_total=2000),
        order_total=10,
    ),
    Case(
        "below the minimum, limits spent",
        (422, {"code": "below_minimum", "min_order_total": 2000, "order_total": 10}),
        terms=TermsSetup(min_order_total=2000, max_redemptions=1, redemption_count=1),
        order_total=10,
    ),
    Case(
        "both limits spent",
        (422, {"code": "limit_reached", "limit": "campaign"}),
        terms=TermsSetup(max_redemptions=1, redemption_count=1, per_customer_limit=1, customer_redeemed=1),
    ),
]


async def _seed_common(session: AsyncSession) -> None:
    session.add_all(
        Store(id=i, name=name, timezone="Europe/Rome", created_at=START) for i, name in STORE_NAMES.items()
    )
    await session.flush()
    session.add_all(
        StaffUser(id=i, username=f"till-{i}", password_hash="-", store_id=i, created_at=START)
        for i in STORE_NAMES
    )


async def _seed(session: AsyncSession, case: Case, index: int) -> bytes:
    """The case's campaign, owner and coupon; the digest a till would present."""
    digest = index.to_bytes(16, "big")
    if case.name == "unknown code":
        return digest
    terms, setup = case.terms, case.coupon
    campaign = Campaign(
        name=f"case {index}",
        slug=f"case-{index}",
        description="",
        discount_kind="percent",
        discount_value=10,
        currency=None,
        starts_at=START - timedelta(days=30),
        ends_at=NOW + timedelta(days=30),
        code_format="random",
        code_length=16,
        per_customer_limit=terms.per_customer_limit,
        max_redemptions=terms.max_redemptions,
        redemption_count=terms.redemption_count,
        stores=terms.stores,
        min_order_total=terms.min_order_total,
        next_serial=1,
        segment={},
        published_at=START,
        created_at=START,
        updated_at=START,
    )
    session.add(campaign)
    customer = None
    if setup.owner:
        customer = Customer(
            email=f"case-{index}@example.com",
            tags=[],
            attributes={},
            marketing_consent=True,
            created_at=START,
            erased_at=NOW - timedelta(days=1) if setup.erased_owner else None,
        )
        session.add(customer)
    await session.flush()
    redeemed = setup.redeemed_at_store is not None
    coupon = Coupon(
        campaign_id=campaign.id,
        serial=0,
        code_digest=digest,
        customer_id=customer.id if customer else None,
        origin="campaign",
        channel="pwa",
        issued_at=START,
        starts_at=setup.starts_at,
        expires_at=setup.expires_at,
        redeemed_at=REDEEMED_AT if redeemed and not setup.voided else None,
        redemption_seq=1 if redeemed else 0,
        revoked_at=NOW - timedelta(days=1) if setup.revoked or setup.erased_owner else None,
    )
    session.add(coupon)
    await session.flush()
    if setup.redeemed_at_store is not None:
        kinds = ["redeem", "void"] if setup.voided else ["redeem"]
        session.add_all(
            Redemption(
                kind=kind,
                coupon_id=coupon.id,
                seq=1,
                campaign_id=campaign.id,
                customer_id=coupon.customer_id,
                store_id=setup.redeemed_at_store,
                staff_id=setup.redeemed_at_store,
                medium="pwa",
                channel="pwa",
                order_total=None,
                occurred_at=REDEEMED_AT,
            )
            for kind in kinds
        )
    if customer is not None and terms.customer_redeemed:
        session.add(
            CustomerRedemptionCount(
                campaign_id=campaign.id, customer_id=customer.id, redeemed=terms.customer_redeemed
            )
        )
    return digest


@dataclass
class Seeded:
    sessions: async_sessionmaker[AsyncSession]
    digests: dict[tuple[str, int], bytes]  # (case, copy) → digest


@pytest.fixture
async def seeded(database_url: str) -> AsyncIterator[Seeded]:
    engine = create_engine(DatabaseSettings(url=database_url, pool_size=2))
    sessions = session_factory(engine)
    digests: dict[tuple[str, int], bytes] = {}
    try:
        async with sessions.begin() as session:
            await _seed_common(session)
            for copy in (0, 1):
                for number, case in enumerate(CASES):
                    index = 1 + copy * len(CASES) + number
                    digests[(case.name, copy)] = await _seed(session, case, index)
        yield Seeded(sessions, digests)
    finally:
        await engine.dispose()


def _request(case: Case, digest: bytes) -> RedeemRequest:
    return RedeemRequest(
        digest=digest,
        medium="pwa",
        now=NOW,
        store_id=case.store_id,
        staff_id=case.store_id,
        order_total=case.order_total,
        idempotency=None,
        throttle=THROTTLE,
    )


def _verdict(outcome: Outcome) -> tuple[int, dict[str, Any]]:
    return (201, {}) if outcome.status == 201 else (outcome.status, outcome.body)


async def _validate(seeded: Seeded, case: Case, digest: bytes) -> tuple[int, dict[str, Any]]:
    async with seeded.sessions() as session:
        found = await presented(session, digest)
    refusal = decide(
        found.state if found else None,
        found.terms if found else None,
        found.customer_redeemed if found else 0,
        Attempt(NOW, case.store_id, case.order_total),
    )
    return (201, {}) if refusal is None else (refusal.status, refusal.body())


async def _run_ledger(
    ledger: RedemptionLedger, seeded: Seeded, copy: int
) -> dict[str, tuple[int, dict[str, Any]]]:
    return {
        case.name: _verdict(await ledger.redeem(_request(case, seeded.digests[(case.name, copy)])))
        for case in CASES
    }


def _expected() -> dict[str, tuple[int, dict[str, Any]]]:
    return {case.name: case.expected for case in CASES}


async def test_validate_and_the_ledgers_give_the_tables_verdicts(database_url: str, seeded: Seeded) -> None:
    expected = _expected()
    validated = {case.name: await _validate(seeded, case, seeded.digests[(case.name, 0)]) for case in CASES}
    assert validated == expected
    database = DatabaseSettings(url=database_url, pool_size=2)
    raw = await open_raw_store(database)
    try:
        assert await _run_ledger(raw.ledger, seeded, copy=0) == expected
    finally:
        await raw.close()
    if database.is_sqlite:
        return
    pool = await create_pool(database.asyncpg_dsn, 2)
    try:
        assert await _run_ledger(NaiveLedger(pool), seeded, copy=1) == expected
    finally:
        await pool.close()


async def test_the_limits_in_sql_are_the_rules_limits(seeded: Seeded) -> None:
    """``offers.state.limits_open``, with which jobs pick coupons to remind of, says of every
    case's coupon what ``rules.limit_refusal`` says."""
    async with seeded.sessions() as session:
        found = set(await session.scalars(select(Coupon.code_digest).where(limits_open())))
    for case in CASES:
        if case.name == "unknown code":
            continue
        terms = OfferTerms(
            max_redemptions=case.terms.max_redemptions,
            redemption_count=case.terms.redemption_count,
            per_customer_limit=case.terms.per_customer_limit,
        )
        owner = 1 if case.coupon.owner else None
        expected = limit_refusal(terms, owner, case.terms.customer_redeemed) is None
        assert (seeded.digests[(case.name, 0)] in found) == expected, case.name


def test_every_verdict_of_the_table_carries_exactly_the_refusal_tables_fields() -> None:
    for case in CASES:
        status, body = case.expected
        if status == 201:
            continue
        answer = BY_CODE[body["code"]]
        assert answer.status == status, case.name
        assert set(body) - {"code"} == set(answer.fields), case.name


_SQL = Path(__file__).resolve().parents[2] / "backend/tessera/migrations/sql"
_LEDGER_OWN = {"too_many_attempts": 429, "idempotency_key_reused": 422, "request_in_progress": 409}


def test_the_sql_functions_codes_and_statuses_are_the_refusal_tables() -> None:
    text = (_SQL / "tessera_redeem_v6.sql").read_text()
    pairs = set()
    for status, body in re.findall(r"status := (\d{3});\s*body := (.+?);\n", text, flags=re.DOTALL):
        found = re.search(r"""'code', '(\w+)'|"code": "(\w+)\"""", body)
        assert found is not None, body
        pairs.add((found.group(1) or found.group(2), int(status)))
    table = {(code, answer.status) for code, answer in BY_CODE.items()}
    assert table <= pairs, "every refusal of the table is answered by tessera_redeem"
    assert pairs - table == set(_LEDGER_OWN.items()), "and nothing else but the ledger's own answers"


def test_every_refusal_error_is_the_tables_answer() -> None:
    assert {error.code for error in REFUSAL_ERRORS} == set(BY_CODE)
    for error in REFUSAL_ERRORS:
        answer = BY_CODE[error.code]
        assert (error.status, error.title) == (answer.status, answer.title), error.code
