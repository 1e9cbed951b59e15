"""Who is in a campaign's segment: decided in the database, by one SQL expression on the
``Customer`` row for both stores, and asked by every caller (publishing's audience, registration
and late consent, triggers, mail merges, SMS keywords), so no two places can disagree.

The segment (``schemas.Segment``) is a conjunction of its parts:

- tags: ``tags_any`` (at least one), ``tags_all`` (every one), ``tags_none`` (none of them);
- attributes: ``attributes`` (each equal), ``attributes_in`` (each one of the listed values),
  ``attribute_ranges`` (each a number, or an ISO date ``YYYY-MM-DD``, within inclusive bounds;
  a value of the other type, or none, is outside);
- ``registered_after``/``registered_before`` and ``active_after``/``active_before`` (the last
  activity: registration, then each redemption; ``after`` inclusive, ``before`` exclusive);
- ``stores``: customers who redeemed a coupon at one of these stores (voided or not).

Equality compares as JSON values do in Python (``1 == 1.0 == True``), on both stores: SQLite
reads the JSON columns with ``json_each`` (``true``/``false`` as 1/0), PostgreSQL with ``jsonb``
operators. ``tests/unit/test_segments_sql.py`` holds the expression against an oracle written
from this description.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Numeric,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.models.customers import Customer
from tessera.models.redemptions import Redemption

Segment = Mapping[str, Any]


def segment_condition(segment: Segment, dialect: str) -> ColumnElement[bool]:
    """The segment as a condition on ``Customer``."""
    conditions: list[ColumnElement[bool]] = []
    if tags := list(segment.get("tags_any") or []):
        conditions.append(_any_tag(tags, dialect))
    for tag in segment.get("tags_all") or []:
        conditions.append(_any_tag([tag], dialect))
    if tags := list(segment.get("tags_none") or []):
        conditions.append(not_(_any_tag(tags, dialect)))
    for name, value in (segment.get("attributes") or {}).items():
        conditions.append(_attribute_equals(name, value, dialect))
    for name, values in (segment.get("attributes_in") or {}).items():
        conditions.append(or_(false(), *(_attribute_equals(name, value, dialect) for value in values)))
    for name, bounds in (segment.get("attribute_ranges") or {}).items():
        conditions.append(_attribute_within(name, bounds.get("gte"), bounds.get("lte"), dialect))
    for field, column, after in (
        ("registered_after", Customer.created_at, True),
        ("registered_before", Customer.created_at, False),
        ("active_after", Customer.last_active_at, True),
        ("active_before", Customer.last_active_at, False),
    ):
        if (moment := segment.get(field)) is not None:
            moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
            conditions.append(column >= moment if after else column < moment)
    if stores := list(segment.get("stores") or []):
        conditions.append(
            Customer.id.in_(
                select(Redemption.customer_id).where(
                    Redemption.kind == "redeem", Redemption.store_id.in_(stores)
                )
            )
        )
    return and_(true(), *conditions)


async def members(session: AsyncSession, segment: Segment, customer_ids: Collection[int]) -> set[int]:
    """Which of ``customer_ids`` are in ``segment`` (one query)."""
    if not customer_ids:
        return set()
    dialect = session.get_bind().dialect.name
    return set(
        await session.scalars(
            select(Customer.id).where(
                Customer.id.in_(sorted(customer_ids)), segment_condition(segment, dialect)
            )
        )
    )


async def segments_of(session: AsyncSession, segments: Mapping[int, Segment], customer_id: int) -> set[int]:
    """The keys of ``segments`` whose segment holds the customer, asked in one query (one
    column per segment), e.g. every running campaign at a registration."""
    if not segments:
        return set()
    dialect = session.get_bind().dialect.name
    keys = list(segments)
    row = (
        await session.execute(
            select(
                *(segment_condition(segments[key], dialect).label(f"s{i}") for i, key in enumerate(keys))
            ).where(Customer.id == customer_id)
        )
    ).first()
    if row is None:
        return set()
    return {key for key, held in zip(keys, row, strict=True) if held}


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


def _attribute_within(name: str, low: Any, high: Any, dialect: str) -> ColumnElement[bool]:
    """A number (never a boolean) or a text (an ISO date) within ``[low, high]``; the bounds'
    type says which."""
    textual = isinstance(low if low is not None else high, str)
    if dialect == "postgresql":
        member = Customer.attributes.op("->", return_type=JSONB)(literal(name))
        as_text = Customer.attributes.op("->>", return_type=Text)(literal(name))
        # The CASE makes the cast happen only for a number: PostgreSQL may evaluate an AND's
        # sides in any order, and casting a text to numeric would fail the whole query.
        value: Any = (
            case((func.jsonb_typeof(member) == "string", as_text.collate("C")))
            if textual
            else case((func.jsonb_typeof(member) == "number", cast(as_text, Numeric)))
        )
        bounds = []
        if low is not None:
            bounds.append(value >= low)
        if high is not None:
            bounds.append(value <= high)
        return and_(true(), *bounds)
    each = func.json_each(Customer.attributes).table_valued("key", "value", "type")
    wanted = [each.c.key == name, each.c.type.in_(["text"] if textual else ["integer", "real"])]
    if low is not None:
        wanted.append(each.c.value >= low)
    if high is not None:
        wanted.append(each.c.value <= high)
    return exists(select(1).select_from(each).where(*wanted))
