"""Who of a chunk gets a message, and the one per-message coupon each of them holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.campaigns.rules import coupon_expiry
from tessera.codes.keys import CodeKeys
from tessera.core.problem_details import TYPE_BASE
from tessera.coupons.issuing import issue_coupons
from tessera.mailmerge.schemas import LineProblem
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon

# Each per-recipient problem: (status, title, detail). Fixed texts, so a repeated merge
# renders the same lines.
RECIPIENT_PROBLEMS: dict[str, tuple[int, str, str]] = {
    "unknown_recipient": (
        404,
        "Unknown recipient",
        "No registered customer has this id, e-mail address or phone number",
    ),
    "no_address": (
        422,
        "No address for this channel",
        "The customer has no e-mail address (channel email) or phone number (channel sms)",
    ),
    "no_marketing_consent": (
        422,
        "No consent to marketing",
        "The customer has not consented to receiving offers",
    ),
    "campaign_not_running": (
        422,
        "The campaign is not running",
        "Coupons are issued only for a published campaign that has not ended",
    ),
    "not_in_segment": (
        422,
        "Not in the campaign's segment",
        "The customer is outside the segment of the campaign",
    ),
    # Only where messages are sent (``deliver: true``): one message per customer and merge.
    "duplicate_recipient": (
        422,
        "Listed more than once",
        "The customer is named earlier in this list and gets that one message",
    ),
}


@dataclass(frozen=True, slots=True)
class Found:
    """What a merge needs of a customer."""

    id: int
    email: str | None
    phone: str | None
    name: str | None
    tags: list[str]
    attributes: dict[str, Any]
    marketing_consent: bool


@dataclass(frozen=True, slots=True)
class Held:
    """A customer's coupon for this message."""

    coupon_id: int
    serial: int
    expires_at: datetime


class Plan(Protocol):
    @property
    def origin(self) -> str: ...

    @property
    def channel(self) -> str: ...


def line_problem(code: str, campaign: str | None = None) -> LineProblem:
    status, title, detail = RECIPIENT_PROBLEMS[code]
    return LineProblem(TYPE_BASE + code, title, status, detail, code, campaign)


def can_issue(campaign: Campaign, now: datetime) -> bool:
    """The rule of personal coupons: published and not ended (a scheduled one's codes are
    valid from its start)."""
    return campaign.published_at is not None and now < campaign.ends_at


def check(
    customer: Found | None,
    channel: str,
    campaigns: Mapping[str, Campaign],
    members: Mapping[str, set[int]],
    now: datetime,
) -> LineProblem | None:
    """Why ``customer`` gets no message, or None: the message needs a code of every campaign
    the template names, so one refusal refuses the message (and issues none of its codes).
    ``members``: by slug, the customers in that campaign's segment (``segments.members``)."""
    if customer is None:
        return line_problem("unknown_recipient")
    if not (customer.email if channel == "email" else customer.phone):
        return line_problem("no_address")
    if not customer.marketing_consent:
        return line_problem("no_marketing_consent")
    for slug, campaign in campaigns.items():
        if not can_issue(campaign, now):
            return line_problem("campaign_not_running", slug)
        if customer.id not in members[slug]:
            return line_problem("not_in_segment", slug)
    return None


async def issue_for(
    session: AsyncSession,
    keys: CodeKeys,
    campaign: Campaign,
    customer_ids: Sequence[int],
    plan: Plan,
    now: datetime,
) -> tuple[dict[int, Held], int]:
    """Every customer's coupon of ``campaign`` for this message, issuing the missing ones;
    returns them by customer and how many were issued now."""
    if not customer_ids:
        return {}, 0
    held = await _held(session, campaign.id, plan.origin, customer_ids)
    missing = [customer_id for customer_id in customer_ids if customer_id not in held]
    if not missing:
        return held, 0
    issued = await issue_coupons(
        session, keys, campaign, missing, origin=plan.origin, channel=plan.channel, now=now
    )
    expires_at = coupon_expiry(campaign, now)
    for item in issued:
        if item.customer_id is not None:
            held[item.customer_id] = Held(item.coupon_id, item.serial, expires_at)
    # A concurrent merge of the same message issued these first (the unique index skipped ours).
    raced = [customer_id for customer_id in missing if customer_id not in held]
    if raced:
        held.update(await _held(session, campaign.id, plan.origin, raced))
    return held, len(issued)


async def _held(
    session: AsyncSession, campaign_id: int, origin: str, customer_ids: Sequence[int]
) -> dict[int, Held]:
    rows = await session.execute(
        select(Coupon.customer_id, Coupon.id, Coupon.serial, Coupon.expires_at).where(
            Coupon.campaign_id == campaign_id,
            Coupon.origin == origin,
            Coupon.customer_id.in_(customer_ids),
        )
    )
    return {
        customer_id: Held(coupon_id, serial, expires)
        for customer_id, coupon_id, serial, expires in rows
        if customer_id is not None
    }
