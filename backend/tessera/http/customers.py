from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from tessera.audit.log import changed_fields, record_action
from tessera.core.errors import InvalidValue, TooManyRequests
from tessera.core.schemas import Page
from tessera.coupons.issuing import CodeSpaceExhausted
from tessera.coupons.schemas import CouponView
from tessera.coupons.services import CouponService
from tessera.customers.schemas import (
    CustomerCreate,
    CustomerCreated,
    CustomerProfileUpdate,
    CustomerUpdate,
    CustomerView,
)
from tessera.customers.services import (
    CustomerExists,
    CustomerNotFound,
    CustomerService,
    TermsRequired,
    customer_view,
)
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.helpers import CURSOR, DEFAULT_LIMIT, LIMIT, PathId, after_id, next_cursor
from tessera.http.problems import raises


class RegistrationController(Controller):
    path = "/api/customers"
    tags = ["customers"]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Register a customer (public)",
        opt=raises(CustomerExists, TermsRequired, CodeSpaceExhausted, TooManyRequests),
    )
    async def register(
        self,
        ctx: Ctx,
        customers: NamedDependency[CustomerService],
        data: JSONBody[CustomerCreate],
        request: Request[Any, Any, Any],
    ) -> CustomerCreated:
        """Registration with consent is the precondition for any offer. The answer's ``token``
        is the customer's bearer token; coupons of running campaigns they match are issued.
        Attempts per client address are limited (429 with ``Retry-After``)."""
        now = ctx.clock.now()
        rule = ctx.throttles.registration(request.client.host if request.client else "unknown")
        if await ctx.ledger.throttled(rule, now):
            raise TooManyRequests(rule.retry_after(now), "Too many registrations from this address")
        await ctx.ledger.record_failure(rule, now)
        async with ctx.sessions.begin() as session:
            customer, token, issued = await customers.register(session, data, ctx.clock.now())
        return CustomerCreated(id=customer.id, token=token, coupons_issued=issued)

    @get(
        "/",
        guards=allow("marketer"),
        summary="List customers (marketer)",
        description=(
            "Customers who are not erased, by id, a page at a time: `limit` of them (1-200, "
            "default 50), then the next page with `cursor` set to this page's `next_cursor` "
            "(null on the last page; a full last page is followed by an empty one). `tag` keeps "
            "the customers holding that tag; `attribute=name=value` those whose attribute `name` "
            "reads `value` as text (a string as written, a number in decimals such as `3` or "
            "`2.5`, a boolean as `True` or `False`). `q` keeps those whose e-mail, phone or "
            "name contains it, in any case. A cursor above 2147483647 and an `attribute` with an "
            "empty name are 422 `invalid_value`."
        ),
    )
    async def list_customers(
        self,
        ctx: Ctx,
        customers: NamedDependency[CustomerService],
        limit: Annotated[int, LIMIT] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, CURSOR] = None,
        tag: Annotated[str | None, QueryParameter(max_length=64)] = None,
        attribute: Annotated[
            str | None, QueryParameter(max_length=200, description="name=value", pattern=r"^[^=]+=.*$")
        ] = None,
        q: Annotated[
            str | None,
            QueryParameter(min_length=1, max_length=100, description="Part of the e-mail, phone or name"),
        ] = None,
    ) -> Page[CustomerView]:
        pair = None
        if attribute is not None:
            name, _, value = attribute.partition("=")
            if not name:
                raise InvalidValue("attribute must be name=value", field="attribute", source="query")
            pair = (name, value)
        async with ctx.readers() as session:
            found = await customers.list(
                session, tag=tag, attribute=pair, after_id=after_id(cursor), limit=limit, search=q
            )
        return Page([customer_view(c) for c in found], next_cursor([c.id for c in found], limit))

    @get(
        "/{customer_id:int}",
        guards=allow("marketer"),
        summary="One customer's profile (marketer)",
        description=(
            "The customer's profile as `GET /api/me` shows it to them: contact, name, birthday, "
            "locale, time zone, tags, attributes and consents. An erased or unknown customer is "
            "404 `customer_not_found`."
        ),
        opt=raises(CustomerNotFound),
    )
    async def get_customer(
        self, ctx: Ctx, customers: NamedDependency[CustomerService], customer_id: PathId
    ) -> CustomerView:
        async with ctx.readers() as session:
            return customer_view(await customers.get(session, customer_id))

    @patch(
        "/{customer_id:int}",
        guards=allow("marketer"),
        summary="Change a customer's tags, attributes, birthday, locale or time zone (marketer)",
        description=(
            "Each field given replaces the stored one (`tags` and `attributes` whole; `null` "
            "clears birthday, locale or time zone). Contact details and consents are not "
            "accepted (400): only the customer gives them. A customer the change brings into a "
            "running or scheduled campaign's segment receives its coupon at once, as a new "
            "registrant would, once. 404 `customer_not_found` for an erased or unknown customer; "
            "422 `invalid_value` for an unknown time zone."
        ),
        opt=raises(CustomerNotFound, CodeSpaceExhausted),
    )
    async def update_customer(
        self,
        ctx: Ctx,
        customers: NamedDependency[CustomerService],
        principal: Caller,
        customer_id: PathId,
        data: JSONBody[CustomerProfileUpdate],
    ) -> CustomerView:
        now = ctx.clock.now()
        async with ctx.sessions.begin() as session:
            customer = await customers.update_profile(session, customer_id, data, now)
            await record_action(
                session,
                principal,
                "customer.changed",
                "customer",
                customer_id,
                now,
                fields=changed_fields(data),
            )
            return customer_view(customer)


class MeController(Controller):
    path = "/api/me"
    tags = ["customers"]
    guards = allow("customer")

    # Another process may still accept the token of a customer erased a moment ago.
    @get(
        "/",
        summary="My profile (customer)",
        description=(
            "The calling customer's profile: e-mail or phone (E.164), name, birthday, locale, "
            "time zone (null: the server's `TESSERA_DEFAULT_TIMEZONE` applies), tags, "
            "attributes and consents, as registration and `PATCH /api/me` left them. 404 "
            "`customer_not_found` only for a customer erased a moment ago whose token another "
            "server process still accepted."
        ),
        opt=raises(CustomerNotFound),
    )
    async def me(
        self, ctx: Ctx, customers: NamedDependency[CustomerService], principal: Caller
    ) -> CustomerView:
        async with ctx.readers() as session:
            return customer_view(await customers.get(session, principal.id))

    @patch("/", summary="Change my profile or consents (customer)", opt=raises(CustomerNotFound))
    async def update_me(
        self,
        ctx: Ctx,
        customers: NamedDependency[CustomerService],
        principal: Caller,
        data: JSONBody[CustomerUpdate],
    ) -> CustomerView:
        """Consent changes are recorded with their time."""
        async with ctx.sessions.begin() as session:
            customer = await customers.update(session, principal.id, data, ctx.clock.now())
            return customer_view(customer)

    @delete("/", status_code=HTTP_204_NO_CONTENT, summary="Erase me (customer)", opt=raises(CustomerNotFound))
    async def erase_me(
        self,
        ctx: Ctx,
        customers: NamedDependency[CustomerService],
        principal: Caller,
        request: Request[Any, Any, Any],
    ) -> None:
        """Personal data is removed and open coupons revoked; analytics keep anonymous events."""
        now = ctx.clock.now()
        async with ctx.sessions.begin() as session:
            await customers.erase(session, principal.id, now)
            await record_action(session, principal, "customer.erased", "customer", principal.id, now)
        ctx.authenticator.forget(request.headers.get("authorization", "").partition(" ")[2].strip())
        ctx.authenticator.forget_principal(principal)  # the tokens of the customer's other devices

    @get(
        "/coupons",
        summary="My coupons (customer)",
        description=(
            "The calling customer's coupons, the most recently issued first, at most 500: each "
            "with its code (`code_display` in groups of four for random codes), the QR payload "
            "of the customer app (`TSR1:P:<code>`), its campaign, discount, channel and validity, "
            "and `status`: `active` (a till could take it now), `scheduled` (not valid yet), "
            "`redeemed`, `expired`, `revoked`, or `used_up` (the campaign's or the customer's "
            "redemption limit is spent; `active` again when a redemption is voided). "
            "`apple_pass_url` and `google_wallet_url` download its wallet passes. Changes nothing."
        ),
    )
    async def my_coupons(
        self, ctx: Ctx, coupons: NamedDependency[CouponService], principal: Caller
    ) -> list[CouponView]:
        async with ctx.readers() as session:
            return await coupons.for_customer(session, principal.id, ctx.clock.now())
