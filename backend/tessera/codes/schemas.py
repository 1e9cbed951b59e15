from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec


class CodeBatchCreate(msgspec.Struct, forbid_unknown_fields=True):
    count: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    channel: Literal["print", "sms", "email", "api"] = "print"


class CodeBatchView(msgspec.Struct):
    id: int
    campaign_id: int
    count: int
    generated: int
    channel: str
    status: Literal["running", "done"]
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime
    progress_url: str
    export_url: str


class UnassignedCode(msgspec.Struct):
    code: str
    serial: int
    batch_id: str
    channel: str
    expires_at: str
    redeemed: bool
