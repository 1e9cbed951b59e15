"""Who a campaign reaches, decided in the database: one SQL expression of ``rules.in_segment``
for both stores, so publishing pages through customers without loading them into Python.

SQLite reads the JSON columns with ``json_each``; PostgreSQL with ``jsonb`` operators. Both
compare as Python's ``==`` does (``1 == 1.0 == True``), which ``tests/test_audience_sql.py``
checks against ``in_segment`` on generated cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Text, and_, bindparam, exists, false, func, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tessera.coupons.issuing import CAMPAIGN_ORIGIN
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer


def in_segment_sql(segment: Mapping[str, Any], dialect: str) -> ColumnElement[bool]:
    """``rules.in_segment`` on the ``Customer`` row: any of ``tags_any``, every attribute equal."""
    conditions: list[ColumnElement[bool]] = []
    tags = list(segment.get("tags_any") or [])
    if tags:
        conditions.append(_any_tag(tags, dialect))
    attributes: Mapping[str, Any] = segment.get("attributes") or {}
    conditions.extend(_attribute_equals(name, value, dialect) for name, value in attributes.items())
    return and_(true(), *conditions)


def _any_tag(tags: list[str], dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return Customer.tags.op("?|", return_type=Boolean)(array(tags, type_=Text))
    each = func.json_each(Customer.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value.in_(tags)))


def _attribute_equals(name: str, value: Any, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return or_(false(), *(_contains({name: form}) for form in _equal_forms(value)))
    # json_each gives true/false as 1/0 and numbers as numbers, strings as text: SQLite's ``=``
    # then matches Python's (a text value never equals a number).
    each = func.json_each(Customer.attributes).table_valued("key", "value")
    return exists(select(1).select_from(each).where(each.c.key == name, each.c.value == value))


def _equal_forms(value: Any) -> list[Any]:
    """The JSON values Python's ``==`` finds equal to ``value`` (jsonb compares numbers by
    value, so ``1`` stands for ``1.0`` too, but never for ``true``)."""
    if isinstance(value, str):
        return [value]
    if value == 1:
        return [1, True]
    if value == 0:
        return [0, False]
    return [value]


def _contains(document: dict[str, Any]) -> ColumnElement[bool]:
    return Customer.attributes.op("@>", return_type=Boolean)(bindparam(None, document, type_=JSONB))


def in_audience(campaign: Campaign, dialect: str) -> tuple[ColumnElement[bool], ...]:
    """Consenting, not erased, in the segment (holding the coupon or not)."""
    return (
        Customer.marketing_consent.is_(True),
        Customer.erased_at.is_(None),
        in_segment_sql(campaign.segment, dialect),
    )


async def count_audience(session: AsyncSession, campaign: Campaign) -> tuple[int, int]:
    """``(to_reach, already_had)``: customers in the audience without the campaign's coupon, and
    those holding it already. An outer join (one coupon per customer at most, by the unique
    index) rather than a correlated test, so the planner may hash or merge it."""
    dialect = session.get_bind().dialect.name
    held = aliased(Coupon)
    row = (
        await session.execute(
            select(func.count(), func.count(held.id))
            .select_from(Customer)
            .outerjoin(
                held,
                and_(
                    held.campaign_id == campaign.id,
                    held.customer_id == Customer.id,
                    held.origin == CAMPAIGN_ORIGIN,
                ),
            )
            .where(*in_audience(campaign, dialect))
        )
    ).one()
    return int(row[0]) - int(row[1]), int(row[1])


@dataclass(frozen=True, slots=True)
class Page:
    to_reach: list[int]  # the page's customers without the campaign's coupon, in id order
    last_id: int | None  # the last customer id of the page (None: nobody after ``after``)
    full: bool  # ``limit`` customers read: more may follow


async def audience_page(session: AsyncSession, campaign: Campaign, after: int, limit: int) -> Page:
    """Up to ``limit`` customers of the audience above id ``after``, in id order, and which of
    them still need the coupon. The holders are looked up in the page's id range of the unique
    index, so each page costs the same however many coupons the campaign has (an anti-join
    with the coupons, planned from statistics of before the publish, sorted them all per page)."""
    dialect = session.get_bind().dialect.name
    ids = list(
        await session.scalars(
            select(Customer.id)
            .where(Customer.id > after, *in_audience(campaign, dialect))
            .order_by(Customer.id)
            .limit(limit)
        )
    )
    if not ids:
        return Page([], None, False)
    held = set(
        await session.scalars(
            select(Coupon.customer_id).where(
                Coupon.campaign_id == campaign.id,
                Coupon.customer_id.between(ids[0], ids[-1]),
                Coupon.origin == CAMPAIGN_ORIGIN,
            )
        )
    )
    return Page([i for i in ids if i not in held], ids[-1], len(ids) == limit)
