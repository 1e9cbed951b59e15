"""The mail-merge request and the lines of its streamed answer (one JSON document per line)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from tessera.core.schemas import Id
from tessera.customers.schemas import Phone

MAX_RECIPIENTS = 100_000
# No control characters: nothing a database or a mail header can choke on.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
_ADDRESS_CHAR = r"[^@\s\x00-\x1f\x7f\x85\ufeff]"  # \s: Python's and JavaScript's differ
RecipientEmail = Annotated[
    str, msgspec.Meta(max_length=320, pattern=rf"^{_ADDRESS_CHAR}+@{_ADDRESS_CHAR}+\.{_ADDRESS_CHAR}+$")
]
MessageId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=100,
        pattern=_PRINTABLE,
        description="The mailing's id: one code per (campaign, recipient, message_id), however often asked",
    ),
]


class Recipient(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Exactly one of ``customer_id``, ``email`` or ``phone`` of a registered customer."""

    customer_id: Id | None = None
    email: RecipientEmail | None = None
    phone: Phone | None = None


class MessageTemplate(msgspec.Struct, forbid_unknown_fields=True):
    """Text with placeholders: ``{{coupon:SLUG}}`` (the personal code as people read it),
    ``{{coupon_url:SLUG}}`` (opens the coupon in the customer app), ``{{wallet_link:SLUG}}``
    (a signed link that adds it to Apple or Google Wallet) and ``{{name}}``. With ``format:
    html`` the values are HTML-escaped."""

    body: Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]
    subject: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    format: Literal["text", "html"] = "text"


class MailMergeCreate(msgspec.Struct, forbid_unknown_fields=True):
    message_id: MessageId
    channel: Literal["email", "sms"]
    template: MessageTemplate
    recipients: Annotated[list[Recipient], msgspec.Meta(min_length=1, max_length=MAX_RECIPIENTS)]
    deliver: Annotated[
        bool,
        msgspec.Meta(
            description=(
                "false (the default): the rendered messages are streamed back to the caller. "
                "true: Tessera sends them itself (e-mail over SMTP or the message webhook, SMS "
                "through the webhook) from a background job: the answer is 202 with a "
                "`progress_url`, and the same `message_id` asked again answers the same job and "
                "sends nothing twice"
            )
        ),
    ] = False


class MergedCoupon(msgspec.Struct):
    slug: str
    campaign_id: int
    coupon_id: int
    code: str
    code_display: str
    expires_at: datetime
    coupon_url: str
    wallet_link: str


class LineProblem(msgspec.Struct, omit_defaults=True):
    """A problem document (RFC 9457 members and the stable ``code``) inside a line."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    campaign: str | None = None


class MergedMessage(msgspec.Struct, tag_field="type", tag="message"):
    """One recipient's rendered message with the codes issued for it."""

    index: int
    recipient: Recipient
    customer_id: int
    to: str
    subject: str | None
    body: str
    coupons: list[MergedCoupon]


class RecipientProblem(msgspec.Struct, tag_field="type", tag="problem"):
    """A recipient who gets no message: ``unknown_recipient``, ``no_address``,
    ``no_marketing_consent``, ``campaign_not_running`` or ``not_in_segment``."""

    index: int
    recipient: Recipient
    customer_id: int | None
    problem: LineProblem


class MergeEnd(msgspec.Struct, tag_field="type", tag="end"):
    """The last line of a complete answer; a stream without it was cut short."""

    recipients: int
    messages: int
    problems: int
    issued: int


class MergeError(msgspec.Struct, tag_field="type", tag="error"):
    """The last line when the work stopped part-way; the lines before it stand."""

    processed: int
    problem: LineProblem


MergeLine = MergedMessage | RecipientProblem | MergeEnd | MergeError
