"""Segment membership written again from its description (``tessera.campaigns.segments``), in
plain Python over one customer's values, to hold the SQL expression against."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Person:
    tags: Sequence[str]
    attributes: Mapping[str, Any]
    created_at: datetime
    last_active_at: datetime | None
    stores: Collection[int] = field(default_factory=set)  # where they redeemed


def _moment(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _within(value: Any, low: Any, high: Any) -> bool:
    textual = isinstance(low if low is not None else high, str)
    if textual:
        if not isinstance(value, str):
            return False
    elif isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def in_segment(segment: Mapping[str, Any], person: Person) -> bool:
    tags = set(person.tags)
    attributes = person.attributes
    missing = object()
    checks = [
        not segment.get("tags_any") or bool(tags & set(segment["tags_any"])),
        all(tag in tags for tag in segment.get("tags_all") or []),
        not tags & set(segment.get("tags_none") or []),
        all(
            attributes.get(name, missing) == value
            for name, value in (segment.get("attributes") or {}).items()
        ),
        all(
            any(attributes.get(name, missing) == value for value in values)
            for name, values in (segment.get("attributes_in") or {}).items()
        ),
        all(
            name in attributes and _within(attributes[name], bounds.get("gte"), bounds.get("lte"))
            for name, bounds in (segment.get("attribute_ranges") or {}).items()
        ),
        "registered_after" not in segment or person.created_at >= _moment(segment["registered_after"]),
        "registered_before" not in segment or person.created_at < _moment(segment["registered_before"]),
        "active_after" not in segment
        or (person.last_active_at is not None and person.last_active_at >= _moment(segment["active_after"])),
        "active_before" not in segment
        or (person.last_active_at is not None and person.last_active_at < _moment(segment["active_before"])),
        not segment.get("stores") or bool(set(person.stores) & set(segment["stores"])),
    ]
    return all(checks)
