from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from tessera.models.publish_jobs import PublishJob


class PublishJobView(msgspec.Struct):
    """A publish job. ``eligible``: customers of the audience without the coupon when the job
    started; ``issued``: coupons issued so far; ``already_had``: customers of the audience who
    held the coupon when the job started or when their chunk was written (or no longer
    consented by then). ``status`` is ``failed`` when the job had to stop short (``error``:
    ``code_space_exhausted``, ``campaign_ended`` or ``limit_reached``: the offer rules say its
    coupons could no longer be used)."""

    job_id: int
    campaign_id: int
    status: Literal["running", "done", "failed"]
    eligible: int
    issued: int
    already_had: int
    progress_url: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    error: str | None = None


class AudienceView(msgspec.Struct):
    count: int


def job_view(job: PublishJob) -> PublishJobView:
    status: Literal["running", "done", "failed"] = "running"
    if job.finished_at is not None:
        status = "failed" if job.error else "done"
    return PublishJobView(
        job_id=job.id,
        campaign_id=job.campaign_id,
        status=status,
        eligible=job.eligible,
        issued=job.issued,
        already_had=job.already_had,
        progress_url=f"/api/campaigns/{job.campaign_id}/publish-jobs/{job.id}",
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
        error=job.error,
    )
