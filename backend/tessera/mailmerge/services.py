"""Mail merges: one rendered message per recipient, each with its own personal codes.

A code is the per-message coupon of ``POST /api/campaigns/{id}/coupons``: origin
``message:<message_id>``, one per (campaign, customer, origin) by the coupons' unique index, issued
through ``issue_coupons`` with the channel recorded. Recipients are worked through in chunks, one
transaction each (a batched lookup of customers and coupons, one bulk insert with ON CONFLICT DO
NOTHING for the missing ones), and each chunk's lines are handed out only after it committed, so
no line ever shows a code that was not issued. Asking again renders the same coupons: the same
codes, links and lines.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

import msgspec
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.campaigns.rules import code_display, code_for
from tessera.campaigns.segments import members
from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.core.errors import InvalidValue, Unprocessable
from tessera.core.problem_details import problem_body
from tessera.customers.phones import e164
from tessera.mailmerge.recipients import Found, Held, check, issue_for, line_problem
from tessera.mailmerge.schemas import (
    LineProblem,
    MailMergeCreate,
    MergedCoupon,
    MergedMessage,
    MergeEnd,
    MergeError,
    Recipient,
    RecipientProblem,
)
from tessera.mailmerge.templates import CouponValues, Template, campaign_slugs, parse
from tessera.models.campaigns import Campaign
from tessera.models.customers import Customer
from tessera.wallet.links.tokens import WalletLinks

CHUNK = 1000


class UnknownCampaign(Unprocessable):
    code = "unknown_campaign"
    title = "The template names a campaign that does not exist"


@dataclass(frozen=True, slots=True)
class MergePlan:
    """A checked request: what every chunk renders and issues."""

    origin: str
    channel: str
    subject: Template | None
    body: Template
    campaigns: dict[str, int]  # slug → campaign id, in order of first mention
    recipients: Sequence[Recipient]


@dataclass(slots=True)
class Tally:
    """What a merge did so far; ``end`` is set once its last line is out."""

    messages: int = 0
    problems: int = 0
    issued: int = 0
    end: MergeEnd | None = None


class MailMerges:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        keys: CodeKeys,
        links: WalletLinks,
        public_url: str,
        phone_region: str | None = None,
    ) -> None:
        self._phone_region = phone_region
        self._sessions = sessions
        self._clock = clock
        self._keys = keys
        self._links = links
        self._app_url = public_url
        self._encoder = msgspec.json.Encoder()

    async def plan(self, session: AsyncSession, data: MailMergeCreate) -> MergePlan:
        """Check the whole request before anything is issued: templates, slugs, recipients."""
        html_format = data.template.format == "html"
        body = parse(data.template.body, "template.body", html_format=html_format)
        subject = None
        if data.template.subject is not None:
            subject = parse(data.template.subject, "template.subject", html_format=html_format)
        slugs = campaign_slugs(subject, body)
        rows = (
            await session.execute(select(Campaign.slug, Campaign.id).where(Campaign.slug.in_(slugs)))
        ).all()
        known = {slug: campaign_id for slug, campaign_id in rows}
        unknown = [slug for slug in slugs if slug not in known]
        if unknown:
            raise UnknownCampaign(f"No campaign has the slug {unknown[0]!r}", slugs=unknown)
        for index, recipient in enumerate(data.recipients):
            given = sum(
                value is not None for value in (recipient.customer_id, recipient.email, recipient.phone)
            )
            if given != 1:
                raise InvalidValue(
                    "A recipient is exactly one of customer_id, email or phone", field=f"recipients[{index}]"
                )
        return MergePlan(
            origin=f"message:{data.message_id}",
            channel=data.channel,
            subject=subject,
            body=body,
            campaigns={slug: known[slug] for slug in slugs},
            recipients=data.recipients,
        )

    async def lines(self, plan: MergePlan, tally: Tally) -> AsyncGenerator[bytes, None]:
        """The answer, a chunk of lines at a time; its last line says how it ended."""
        done = 0
        try:
            for start in range(0, len(plan.recipients), CHUNK):
                chunk = plan.recipients[start : start + CHUNK]
                yield await self._chunk(plan, start, chunk, tally)
                done = start + len(chunk)
        except Exception as error:  # the status line is out: the answer ends with the problem
            yield self._line(MergeError(processed=done, problem=LineProblem(**problem_body(error))))
            return
        tally.end = MergeEnd(
            recipients=len(plan.recipients),
            messages=tally.messages,
            problems=tally.problems,
            issued=tally.issued,
        )
        yield self._line(tally.end)

    async def _chunk(self, plan: MergePlan, start: int, chunk: Sequence[Recipient], tally: Tally) -> bytes:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found = await find_customers(session, chunk, self._phone_region)
            campaigns = {
                campaign.id: campaign
                for campaign in await session.scalars(
                    select(Campaign).where(Campaign.id.in_(plan.campaigns.values()))
                )
            }
            by_slug = {slug: campaigns[campaign_id] for slug, campaign_id in plan.campaigns.items()}
            ids = [customer.id for customer in found if customer is not None]
            members_of = {
                slug: await members(session, campaign.segment, ids) for slug, campaign in by_slug.items()
            }
            verdicts = [check(customer, plan.channel, by_slug, members_of, now) for customer in found]
            eligible = sorted({c.id for c, v in zip(found, verdicts, strict=True) if c and v is None})
            coupons: dict[str, dict[int, Held]] = {}
            issued = 0
            for slug, campaign in by_slug.items():
                coupons[slug], count = await issue_for(session, self._keys, campaign, eligible, plan, now)
                issued += count
        tally.issued += issued
        out: list[bytes] = []
        for offset, (recipient, customer, verdict) in enumerate(zip(chunk, found, verdicts, strict=True)):
            index = start + offset
            if verdict is not None or customer is None:
                tally.problems += 1
                problem = verdict or line_problem("unknown_recipient")
                customer_id = customer.id if customer else None
                out.append(self._line(RecipientProblem(index, recipient, customer_id, problem)))
                continue
            merged = [
                self._coupon(slug, by_slug[slug], coupons[slug][customer.id]) for slug in plan.campaigns
            ]
            values = {
                item.slug: CouponValues(item.code_display, item.coupon_url, item.wallet_link)
                for item in merged
            }
            name = customer.name or ""
            tally.messages += 1
            out.append(
                self._line(
                    MergedMessage(
                        index=index,
                        recipient=recipient,
                        customer_id=customer.id,
                        to=(customer.email if plan.channel == "email" else customer.phone) or "",
                        subject=plan.subject.render(name, values) if plan.subject else None,
                        body=plan.body.render(name, values),
                        coupons=merged,
                    )
                )
            )
        return b"".join(out)

    def _coupon(self, slug: str, campaign: Campaign, held: Held) -> MergedCoupon:
        code = code_for(self._keys, campaign, held.serial)
        return MergedCoupon(
            slug=slug,
            campaign_id=campaign.id,
            coupon_id=held.coupon_id,
            code=code,
            code_display=code_display(campaign, code),
            expires_at=held.expires_at,
            coupon_url=f"{self._app_url}/#coupon-{held.coupon_id}",
            wallet_link=self._links.url(held.coupon_id, held.expires_at),
        )

    def _line(self, line: object) -> bytes:
        return self._encoder.encode(line) + b"\n"


async def find_customers(
    session: AsyncSession, chunk: Sequence[Recipient], phone_region: str | None
) -> list[Found | None]:
    """Each recipient's customer (None: unknown or erased), found with one query for the chunk;
    phone numbers in the form registration stores (E.164), whichever way the list wrote them."""
    ids = {r.customer_id for r in chunk if r.customer_id is not None}
    emails = {r.email.strip().lower() for r in chunk if r.email is not None}
    stored_phone = {r.phone: e164(r.phone, phone_region) or r.phone for r in chunk if r.phone is not None}
    phones = set(stored_phone.values())
    conditions = []
    if ids:
        conditions.append(Customer.id.in_(ids))
    if emails:
        conditions.append(Customer.email.in_(emails))
    if phones:
        conditions.append(Customer.phone.in_(phones))
    rows = await session.execute(
        select(
            Customer.id,
            Customer.email,
            Customer.phone,
            Customer.name,
            Customer.tags,
            Customer.attributes,
            Customer.marketing_consent,
        ).where(Customer.erased_at.is_(None), or_(*conditions))
    )
    found = [Found(*row) for row in rows]
    by_id = {c.id: c for c in found}
    by_email = {c.email: c for c in found if c.email}
    by_phone = {c.phone: c for c in found if c.phone}
    return [
        by_id.get(r.customer_id)
        if r.customer_id is not None
        else by_email.get(r.email.strip().lower())
        if r.email is not None
        else by_phone.get(stored_phone.get(r.phone or "", ""))
        for r in chunk
    ]
