"""Issuing a triggered campaign's coupons: to whom, and at most once each."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

import structlog
from sqlalchemy import ColumnElement, ColumnExpressionArgument, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tessera.campaigns.segments import segment_condition
from tessera.codes.keys import CodeKeys
from tessera.core.errors import DomainError
from tessera.coupons.issuing import issue_coupons
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.customers import Customer
from tessera.models.outbox import OutboxMessage
from tessera.models.triggers import TRIGGER_ORIGIN
from tessera.offers.state import cannot_issue

# The outbox topic of the messages that tell of a triggered coupon (``trigger.channel`` e-mail
# or SMS); composed at delivery (``tessera.messages.coupon_notices``).
TRIGGER_MESSAGE: Final = "trigger_message"
_IN_LIST = 500

log = structlog.get_logger("tessera.triggers")


def holds_trigger_coupon(campaign_id: int, customer_id: ColumnExpressionArgument[Any]) -> ColumnElement[bool]:
    """Whether the customer already has the triggered campaign's coupon (the unique index)."""
    held = aliased(Coupon)
    return exists().where(
        held.campaign_id == campaign_id, held.customer_id == customer_id, held.origin == TRIGGER_ORIGIN
    )


def may_receive(campaign: Campaign, dialect: str) -> tuple[ColumnElement[bool], ...]:
    """Conditions on ``Customer``: marketing consent, not erased, no coupon of the campaign yet,
    and in its segment."""
    return (
        Customer.marketing_consent.is_(True),
        Customer.erased_at.is_(None),
        ~holds_trigger_coupon(campaign.id, Customer.id),
        segment_condition(campaign.segment, dialect),
    )


async def issue_triggered(
    session: AsyncSession, keys: CodeKeys, campaign: Campaign, customer_ids: Iterable[int], now: datetime
) -> int:
    """The campaign's coupon for each of ``customer_ids`` who may have one (consent and segment
    as they are now); how many were issued. A campaign that cannot issue (its code space is
    used up) is logged and skipped, leaving the caller's other work in place."""
    reason = cannot_issue(campaign, now)
    if reason is not None:  # its coupons could never be redeemed
        log.info("triggered campaign cannot issue", campaign_id=campaign.id, reason=reason)
        return 0
    wanted = sorted(set(customer_ids))
    dialect = session.get_bind().dialect.name
    eligible: list[int] = []
    for start in range(0, len(wanted), _IN_LIST):
        eligible.extend(
            await session.scalars(
                select(Customer.id).where(
                    Customer.id.in_(wanted[start : start + _IN_LIST]), *may_receive(campaign, dialect)
                )
            )
        )
    if not eligible:
        return 0
    message = campaign.trigger_channel  # None: the app, with a push where consented
    try:
        async with session.begin_nested():
            issued = await issue_coupons(
                session, keys, campaign, eligible, origin=TRIGGER_ORIGIN, channel=message or "pwa", now=now
            )
    except DomainError as error:
        log.warning("triggered campaign cannot issue", campaign_id=campaign.id, reason=error.detail)
        return 0
    if message is not None:
        session.add_all(
            OutboxMessage(
                topic=TRIGGER_MESSAGE,
                target=str(item.coupon_id),
                payload={"channel": message},
                created_at=now,
                available_at=now,
                attempts=0,
            )
            for item in issued
        )
    return len(issued)
