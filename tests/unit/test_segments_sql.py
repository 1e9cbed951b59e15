"""The SQL segment expression agrees with the segment's description (``tests.oracles.segments``)
on generated customers and segments, on both stores: every tag and attribute operator, mixed
value types (Python finds ``1 == 1.0 == True``; a range takes numbers or ISO dates, never
booleans), registration and activity times. Store membership is held through HTTP in
``tests/api/test_segments.py``."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from tessera.campaigns.segments import members, segment_condition, segments_of
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import Settings
from tessera.models.customers import Customer
from tests.oracles.segments import Person, in_segment
from tests.support.fixed_values import START

TAGS = ["vip", "new", "a.b", "x_y", "milan:central", "VIP"]
NAMES = ["city", "tier", "score", "is_member", "joined"]
VALUES: list[Any] = ["1", "a", "true", "", 1, 0, 2, -3, 1.0, 0.0, 2.5, True, False, 10**15]
DATES = ["2025-12-31", "2026-01-01", "2026-06-15", "2026-12-31"]
BOUNDS: list[Any] = [-3, 0, 1, 2.5, 100]
CUSTOMERS = 150
SEGMENTS = 200


def _customer(rng: random.Random) -> dict[str, Any]:
    attributes = {name: rng.choice(VALUES + DATES) for name in rng.sample(NAMES, rng.randint(0, 4))}
    return {
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "attributes": attributes,
        "marketing_consent": True,
        "created_at": START + timedelta(days=rng.randint(0, 60)),
        "last_active_at": rng.choice([None, START + timedelta(days=rng.randint(0, 90))]),
    }


def _range(rng: random.Random) -> dict[str, Any]:
    pool = rng.choice([BOUNDS, DATES])
    low, high = sorted(rng.sample(pool, 2))
    return rng.choice([{"gte": low}, {"lte": high}, {"gte": low, "lte": high}])


def _moment(rng: random.Random) -> str:
    return (START + timedelta(days=rng.randint(0, 90), hours=rng.choice([0, 12]))).isoformat()


def _segment(rng: random.Random) -> dict[str, Any]:
    segment: dict[str, Any] = {}
    for key in ("tags_any", "tags_all", "tags_none"):
        if rng.random() < 0.35:
            segment[key] = rng.sample(TAGS, rng.randint(1, 2))
    if rng.random() < 0.4:
        segment["attributes"] = {name: rng.choice(VALUES) for name in rng.sample(NAMES, rng.randint(1, 2))}
    if rng.random() < 0.3:
        segment["attributes_in"] = {rng.choice(NAMES): rng.sample(VALUES + DATES, rng.randint(1, 4))}
    if rng.random() < 0.4:
        segment["attribute_ranges"] = {rng.choice(NAMES): _range(rng)}
    for key in ("registered_after", "registered_before", "active_after", "active_before"):
        if rng.random() < 0.2:
            segment[key] = _moment(rng)
    return segment


async def test_sql_segment_agrees_with_the_description(settings: Settings) -> None:
    rng = random.Random(22)
    people = [_customer(rng) for _ in range(CUSTOMERS)]
    engine = create_engine(settings.database)
    try:
        async with session_factory(engine).begin() as session:
            await session.execute(insert(Customer), people)
        dialect = engine.dialect.name
        async with session_factory(engine)() as session:
            stored = (
                await session.execute(
                    select(
                        Customer.id,
                        Customer.tags,
                        Customer.attributes,
                        Customer.created_at,
                        Customer.last_active_at,
                    )
                )
            ).all()
            persons = {
                row.id: Person(row.tags, row.attributes, row.created_at, row.last_active_at) for row in stored
            }
            segments = [_segment(rng) for _ in range(SEGMENTS)]
            segments += [{"attributes": {"score": value}} for value in VALUES]
            segments += [{"attribute_ranges": {"score": {"gte": 0, "lte": 1}}}, {"tags_none": TAGS}]
            partial = 0
            for segment in segments:
                found = set(
                    await session.scalars(select(Customer.id).where(segment_condition(segment, dialect)))
                )
                expected = {i for i, person in persons.items() if in_segment(segment, person)}
                assert found == expected, segment
                partial += 0 < len(expected) < len(stored)
            # Enough segments split the customers for the comparison to mean something.
            assert partial > SEGMENTS // 4

            # The per-customer questions give the same answers.
            some = sorted(persons)[:20]
            by_key = dict(enumerate(segments[:30]))
            for customer_id in some:
                held = await segments_of(session, by_key, customer_id)
                assert held == {k for k, s in by_key.items() if in_segment(s, persons[customer_id])}
            assert await members(session, segments[0], some) == {
                i for i in some if in_segment(segments[0], persons[i])
            }
    finally:
        await engine.dispose()
