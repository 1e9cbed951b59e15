"""Consent changes a customer makes outside the app (a STOP by SMS, an unsubscribe link in an
e-mail): the customer row and the append-only consent record change together, once."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.models.customers import Consent, Customer

WithdrawalSource = Literal["sms", "email"]


async def withdraw_marketing(
    session: AsyncSession, customer_id: int, source: WithdrawalSource, now: datetime
) -> bool:
    """Marketing consent off, recorded with ``source`` and ``now``; True when it was on. Once
    however many withdrawals race: the conditional update lets one of them record it."""
    changed = await session.execute(
        update(Customer)
        .where(
            Customer.id == customer_id,
            Customer.marketing_consent.is_(True),
            Customer.erased_at.is_(None),
        )
        .values(marketing_consent=False)
        .execution_options(synchronize_session=False)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        return False
    session.add(
        Consent(customer_id=customer_id, purpose="marketing", granted=False, recorded_at=now, source=source)
    )
    return True
