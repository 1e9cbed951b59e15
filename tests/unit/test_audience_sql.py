"""The SQL segment expression agrees with ``rules.in_segment`` on generated customers and
segments, on both stores (mixed value types included: Python finds ``1 == 1.0 == True``)."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import insert, select

from tessera.campaigns.audience import in_segment_sql
from tessera.campaigns.rules import in_segment
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import Settings
from tessera.models.customers import Customer
from tests.support.fixed_values import START

TAGS = ["vip", "new", "a.b", "x_y", "milan:central", "VIP"]
NAMES = ["city", "tier", "score", "is_member"]
VALUES: list[Any] = ["1", "a", "true", "", 1, 0, 2, -3, 1.0, 0.0, 2.5, True, False, 10**15]
CUSTOMERS = 150
SEGMENTS = 120


def _customer(rng: random.Random) -> dict[str, Any]:
    return {
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "attributes": {name: rng.choice(VALUES) for name in rng.sample(NAMES, rng.randint(0, 3))},
        "marketing_consent": True,
        "created_at": START,
    }


def _segment(rng: random.Random) -> dict[str, Any]:
    return {
        "tags_any": rng.sample(TAGS, rng.choice([0, 0, 1, 2, 3])),
        "attributes": {name: rng.choice(VALUES) for name in rng.sample(NAMES, rng.choice([0, 1, 1, 2]))},
    }


async def test_sql_segment_agrees_with_in_segment(settings: Settings) -> None:
    rng = random.Random(19)
    people = [_customer(rng) for _ in range(CUSTOMERS)]
    engine = create_engine(settings.database)
    try:
        async with session_factory(engine).begin() as session:
            await session.execute(insert(Customer), people)
        dialect = engine.dialect.name
        async with session_factory(engine)() as session:
            stored = (await session.execute(select(Customer.id, Customer.tags, Customer.attributes))).all()
            segments = [_segment(rng) for _ in range(SEGMENTS)]
            segments += [{"attributes": {"score": value}} for value in VALUES]
            partial = 0
            for segment in segments:
                found = set(
                    await session.scalars(select(Customer.id).where(in_segment_sql(segment, dialect)))
                )
                expected = {row.id for row in stored if in_segment(segment, row.tags, row.attributes)}
                assert found == expected, segment
                partial += 0 < len(expected) < len(stored)
            assert partial > SEGMENTS // 4  # the cases select, rather than all or nothing
    finally:
        await engine.dispose()
