"""The progress view of a mail merge that is sent (``deliver: true``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

JobStatus = Literal["running", "done", "failed"]


class DeliveryCounts(msgspec.Struct):
    """The merge's queued messages by where they stand: ``queued`` (not yet handed off, or
    waiting to be tried again), ``sent`` (accepted by the SMTP server or the message webhook),
    ``failed`` (refused, or given up after the retries; the reasons in ``failed_reasons``)."""

    queued: int
    sent: int
    failed: int


class FailedReason(msgspec.Struct):
    reason: str
    count: int


class MailMergeJobView(msgspec.Struct):
    """A mail merge that is sent. ``status`` is ``running`` while recipients are worked through
    or messages wait to be sent, ``done`` once every message was sent or given up, ``failed``
    when the job had to stop short (``error``). ``recipients``: how many the request named;
    ``processed``: how many were worked through; ``messages``: messages queued; ``problems``:
    recipients who get nothing, by problem code (``unknown_recipient``, ``no_address``,
    ``no_marketing_consent``, ``campaign_not_running``, ``not_in_segment``,
    ``duplicate_recipient``); ``issued``: coupons issued for it (a repeat issues none)."""

    id: int
    message_id: str
    channel: Literal["email", "sms"]
    status: JobStatus
    progress_url: str
    recipients: int
    processed: int
    messages: int
    problems: dict[str, int]
    issued: int
    delivery: DeliveryCounts
    failed_reasons: list[FailedReason]
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    error: str | None = None
