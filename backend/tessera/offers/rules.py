"""Whether a coupon can be used now, and why not: one function, pure, in one order.

The order is the answer's precedence, the same in every ledger: the coupon's own state (known
and not revoked, not redeemed, not expired, already valid), then the offer's terms at this till
(store, minimum order), then the limits (the campaign's, then the customer's). A ledger applies
it with conditional writes; validate, listings and the member-card lookup call ``decide`` on what
they read; prizes and triggers call ``issue_refusal``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tessera.core.clock import rfc3339
from tessera.offers.refusals import ANSWERS, CouponStatus, Reason


@dataclass(frozen=True, slots=True)
class CouponState:
    """What the rules need of one coupon; ``redeemed_store`` is where its redemption took place."""

    starts_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None = None
    revoked_at: datetime | None = None
    customer_id: int | None = None
    redeemed_store: StoreRef | None = None


@dataclass(frozen=True, slots=True)
class StoreRef:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """A campaign's terms of use. ``stores`` None: every store's till may redeem."""

    stores: tuple[StoreRef, ...] | None = None
    min_order_total: int | None = None
    max_redemptions: int | None = None
    redemption_count: int = 0
    per_customer_limit: int | None = None

    def accepts_store(self, store_id: int) -> bool:
        return self.stores is None or any(store.id == store_id for store in self.stores)


@dataclass(frozen=True, slots=True)
class Attempt:
    """Who presents the coupon, and when. ``store_id`` None: nobody at a till (a listing).
    ``order_checked`` False: the order total is not known yet (validate before the till has
    one), so the minimum is not judged; a redemption always judges it."""

    now: datetime
    store_id: int | None = None
    order_total: int | None = None
    order_checked: bool = True


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: Reason
    data: Mapping[str, Any]

    @property
    def status(self) -> int:
        return ANSWERS[self.reason].status

    @property
    def code(self) -> str:
        return ANSWERS[self.reason].code

    def body(self) -> dict[str, Any]:
        """The ledgers' answer: ``{"code": …, **data}`` with exactly the table's fields, times as
        the API writes them."""
        fields = ANSWERS[self.reason].fields
        return {"code": self.code, **{name: _json_ready(self.data[name]) for name in fields}}


def _json_ready(value: Any) -> Any:
    return rfc3339(value) if isinstance(value, datetime) else value


def coupon_refusal(coupon: CouponState | None, now: datetime) -> Refusal | None:
    """The coupon's own state: whether it exists for the caller, is still open and in its window."""
    if coupon is None:
        return Refusal(Reason.UNKNOWN, {})
    if coupon.revoked_at is not None:
        return Refusal(Reason.REVOKED, {})
    if coupon.redeemed_at is not None:
        where = coupon.redeemed_store
        return Refusal(
            Reason.REDEEMED,
            {
                "redeemed_at": coupon.redeemed_at,
                "store_id": where.id if where else None,
                "store_name": where.name if where else None,
            },
        )
    if coupon.expires_at <= now:
        return Refusal(Reason.EXPIRED, {"expired_at": coupon.expires_at})
    if coupon.starts_at > now:
        return Refusal(Reason.NOT_YET_VALID, {"valid_from": coupon.starts_at})
    return None


def terms_refusal(terms: OfferTerms, attempt: Attempt) -> Refusal | None:
    """The offer's terms at this till: its stores and its minimum order."""
    if attempt.store_id is not None and not terms.accepts_store(attempt.store_id):
        stores = sorted(terms.stores or (), key=lambda store: store.id)
        return Refusal(Reason.WRONG_STORE, {"stores": [{"id": s.id, "name": s.name} for s in stores]})
    minimum = terms.min_order_total
    if (
        minimum is not None
        and attempt.order_checked
        and (attempt.order_total is None or attempt.order_total < minimum)
    ):
        return Refusal(Reason.BELOW_MINIMUM, {"min_order_total": minimum, "order_total": attempt.order_total})
    return None


def limit_refusal(terms: OfferTerms, customer_id: int | None, customer_redeemed: int) -> Refusal | None:
    """The limits, as counted now: the campaign's total, then the customer's own."""
    if terms.max_redemptions is not None and terms.redemption_count >= terms.max_redemptions:
        return Refusal(Reason.CAMPAIGN_LIMIT, {"limit": "campaign"})
    if (
        customer_id is not None
        and terms.per_customer_limit is not None
        and customer_redeemed >= terms.per_customer_limit
    ):
        return Refusal(Reason.CUSTOMER_LIMIT, {"limit": "customer"})
    return None


def decide(
    coupon: CouponState | None, terms: OfferTerms | None, customer_redeemed: int, attempt: Attempt
) -> Refusal | None:
    """None: the coupon can be used by this attempt now; otherwise the first reason it cannot.
    ``customer_redeemed`` is how many of the campaign's redemptions its owner has (net of voids)."""
    refusal = coupon_refusal(coupon, attempt.now)
    if refusal is not None or coupon is None or terms is None:
        return refusal
    return terms_refusal(terms, attempt) or limit_refusal(terms, coupon.customer_id, customer_redeemed)


def listing_status(
    coupon: CouponState, terms: OfferTerms, customer_redeemed: int, now: datetime
) -> CouponStatus:
    """What the owner's listing shows: ``active`` when some till could take it now."""
    refusal = decide(coupon, terms, customer_redeemed, Attempt(now, order_checked=False))
    if refusal is None:
        return "active"
    return ANSWERS[refusal.reason].listing or "active"


@dataclass(frozen=True, slots=True)
class IssueTerms:
    """What decides whether a campaign can still hand out a coupon someone could use."""

    ends_at: datetime
    max_redemptions: int | None
    redemption_count: int


def issue_refusal(campaign: IssueTerms, now: datetime) -> str | None:
    """Why a new coupon of this campaign could never be used (a prize, a triggered coupon), or
    None: ``campaign_ended`` after its end, ``limit_reached`` once its redemptions are spent."""
    if now >= campaign.ends_at:
        return "campaign_ended"
    if campaign.max_redemptions is not None and campaign.redemption_count >= campaign.max_redemptions:
        return "limit_reached"
    return None
