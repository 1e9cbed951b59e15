"""Publishing is a background job: 202 with a progress view, exact counts, nothing issued twice
(a second publish, a stopped and resumed job), the audience it reaches counted in advance, and
customers who consent later (or register before a scheduled campaign starts) get theirs too."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from litestar.testing import AsyncTestClient

from tessera.app import create_app
from tessera.campaigns import publish_writers
from tessera.campaigns.publish_writers import Chunk, PublishWriter, SqlitePublishWriter, Written
from tessera.core.clock import FrozenClock
from tessera.core.db.base import sqlite_time
from tessera.core.settings import Settings
from tessera.push.services import NEW_OFFER
from tests.support.api import Api, Headers, iso, job_done, problem


async def _audience(api: Api, campaign_id: int) -> int:
    response = await api.client.get(f"/api/campaigns/{campaign_id}/audience", headers=await api.marketer())
    assert response.status_code == 200, response.text
    count: int = response.json()["count"]
    return count


async def _publish(client: AsyncClient, marketer: Headers, campaign_id: int) -> dict[str, Any]:
    response = await client.post(f"/api/campaigns/{campaign_id}/publish", headers=marketer)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def _holdings(api: Api, campaign_id: int) -> dict[int, int]:
    rows = await api.sql(
        "SELECT customer_id, count(*) FROM coupons WHERE campaign_id = :c GROUP BY customer_id", c=campaign_id
    )
    return {customer_id: n for customer_id, n in rows}


async def _issued_events(api: Api, campaign_id: int) -> list[Any]:
    return await api.sql(
        "SELECT coupon_id, count(*) FROM events WHERE type = 'issued' AND campaign_id = :c "
        "GROUP BY coupon_id ORDER BY coupon_id",
        c=campaign_id,
    )


async def test_publish_answers_202_and_the_job_reaches_done_with_exact_counts(api: Api) -> None:
    campaign = await api.campaign(segment={"tags_any": ["coffee"]})
    insiders = [(await api.customer(tags=["coffee"]))[0] for _ in range(7)]
    await api.customer(tags=["tea"])
    await api.customer(tags=["coffee"], marketing=False)
    marketer = await api.marketer()
    assert await _audience(api, campaign["id"]) == 7

    started = await _publish(api.client, marketer, campaign["id"])
    assert {"job_id", "progress_url", "status", "eligible", "issued"} <= started.keys()
    assert started["eligible"] == 7
    assert started["progress_url"] == f"/api/campaigns/{campaign['id']}/publish-jobs/{started['job_id']}"
    done = await job_done(api.client, marketer, started["progress_url"])
    assert (done["status"], done["eligible"], done["issued"], done["already_had"]) == ("done", 7, 7, 0)
    assert done["finished_at"] is not None
    shown = (await api.client.get(f"/api/campaigns/{campaign['id']}", headers=marketer)).json()
    assert shown["published_at"] is not None
    assert await _holdings(api, campaign["id"]) == dict.fromkeys(insiders, 1)
    coupons = await api.sql("SELECT id FROM coupons WHERE campaign_id = :c ORDER BY id", c=campaign["id"])
    assert [tuple(row) for row in await _issued_events(api, campaign["id"])] == [(c, 1) for (c,) in coupons]
    assert await _audience(api, campaign["id"]) == 0

    # Again: a new job, which finds everybody served.
    again = await api.publish(campaign["id"])
    assert again["job_id"] != started["job_id"]
    assert (again["eligible"], again["issued"], again["already_had"]) == (0, 0, 7)
    assert await _holdings(api, campaign["id"]) == dict.fromkeys(insiders, 1)


async def test_the_audience_count_is_what_a_publish_then_issues(api: Api) -> None:
    campaign = await api.campaign(segment={"tags_any": ["vip", "gold"], "attributes": {"city": "Rome"}})
    for tags, city, marketing in [
        (["vip"], "Rome", True),
        (["gold", "x"], "Rome", True),
        (["vip"], "Milan", True),
        ([], "Rome", True),
        (["gold"], "Rome", False),
        (["vip"], "Rome", True),
    ]:
        await api.customer(tags=tags, attributes={"city": city}, marketing=marketing)
    erased_id, erased = await api.customer(tags=["vip"], attributes={"city": "Rome"})
    assert (await api.client.delete("/api/me", headers=erased)).status_code == 204
    # A personal (mail-merge) coupon is not the campaign's coupon from publishing.
    messaged, _ = await api.customer(tags=["gold"], attributes={"city": "Rome"})
    await api.client.post(
        f"/api/campaigns/{campaign['id']}/coupons",
        json={"customer_id": messaged, "channel": "email", "message_id": "m1"},
        headers=await api.marketer(),
    )  # refused before publishing; either way the customer has no campaign coupon

    counted = await _audience(api, campaign["id"])
    published = await api.publish(campaign["id"])
    assert counted == published["eligible"] == published["issued"] == 4
    holders = await api.sql(
        "SELECT count(*) FROM coupons WHERE campaign_id = :c AND origin = 'campaign'", c=campaign["id"]
    )
    assert holders == [(4,)]
    assert erased_id not in await _holdings(api, campaign["id"])


async def test_publish_refusals_and_unknown_jobs(api: Api, clock: FrozenClock) -> None:
    marketer = await api.marketer()
    now = api.clock.now()
    ended = await api.campaign(starts_at=iso(now - timedelta(days=3)), ends_at=iso(now + timedelta(days=1)))
    clock.advance(timedelta(days=2))
    problem(
        await api.client.post(f"/api/campaigns/{ended['id']}/publish", headers=marketer),
        422,
        "campaign_ended",
    )
    problem(await api.client.post("/api/campaigns/999/publish", headers=marketer), 404, "campaign_not_found")
    problem(await api.client.get("/api/campaigns/999/audience", headers=marketer), 404, "campaign_not_found")
    other = await api.campaign(name="Other")
    job = await api.publish(other["id"])
    problem(
        await api.client.get(f"/api/campaigns/{ended['id']}/publish-jobs/{job['job_id']}", headers=marketer),
        404,
        "publish_job_not_found",
    )


class Stalling:
    """The store's writer, which writes ``chunks`` chunks and then one more whose commit the job
    never hears of (the process dies right after it); every later chunk hangs unwritten until
    cancelled."""

    def __init__(self, inner: PublishWriter, chunks: int) -> None:
        self._inner = inner
        self._left = chunks
        self.stalled = False

    async def write(self, chunk: Chunk) -> Written:
        self._left -= 1
        if self._left == -1:
            await self._inner.write(chunk)
            self.stalled = True
        if self._left < 0:
            await asyncio.Event().wait()
        return await self._inner.write(chunk)

    async def fail(self, job_id: int, error: str, now: Any) -> None:
        await self._inner.fail(job_id, error, now)


async def test_a_job_stopped_mid_publish_resumes_in_a_new_process_and_issues_each_coupon_once(
    api: Api, settings: Settings
) -> None:
    campaign = await api.campaign(segment={"tags_any": ["coffee"]})
    insiders = [(await api.customer(tags=["coffee"]))[0] for _ in range(23)]
    await api.customer(tags=["tea"])
    await api.customer(tags=["coffee"], marketing=False)
    publishing = api.ctx.publishing
    publishing.chunk, publishing.chunk_range = 4, (4, 4)
    stalling = Stalling(publishing._writer, chunks=2)  # the crash is simulated at the writer
    publishing._writer = stalling
    marketer = await api.marketer()

    started = await _publish(api.client, marketer, campaign["id"])
    for _ in range(500):
        if stalling.stalled:
            break
        await asyncio.sleep(0.01)
    assert stalling.stalled
    progress = (await api.client.get(started["progress_url"], headers=marketer)).json()
    assert (progress["status"], progress["issued"], progress["eligible"]) == ("running", 12, 23)
    # Publishing while it runs answers the running job.
    assert (await _publish(api.client, marketer, campaign["id"]))["job_id"] == started["job_id"]

    api.client.blocking_portal.call(publishing.stop)  # type: ignore[attr-defined]
    assert await _holdings(api, campaign["id"]) == dict.fromkeys(insiders[:12], 1)

    # Another process starts: it takes the job up where the last commit left it.
    async with AsyncTestClient(app=create_app(settings, api.clock)) as restarted:
        done = await job_done(restarted, marketer, started["progress_url"])
    assert (done["status"], done["eligible"], done["issued"], done["already_had"]) == ("done", 23, 23, 0)
    assert await _holdings(api, campaign["id"]) == dict.fromkeys(insiders, 1)
    coupons = await api.sql("SELECT id FROM coupons WHERE campaign_id = :c ORDER BY id", c=campaign["id"])
    assert [tuple(row) for row in await _issued_events(api, campaign["id"])] == [(c, 1) for (c,) in coupons]
    serials = await api.sql(
        "SELECT count(DISTINCT serial) FROM coupons WHERE campaign_id = :c", c=campaign["id"]
    )
    assert serials == [(23,)]


async def test_late_consent_gets_the_running_campaigns_coupon_once(api: Api) -> None:
    campaign = await api.campaign(segment={"tags_any": ["coffee"]})
    other = await api.campaign(name="Tea only", segment={"tags_any": ["tea"]})
    await api.publish(campaign["id"])
    await api.publish(other["id"])
    _, late = await api.customer(tags=["coffee"], marketing=False)
    assert await api.coupons(late) == []

    for marketing in (True, False, True):
        response = await api.client.patch("/api/me", json={"consent": {"marketing": marketing}}, headers=late)
        assert response.status_code == 200, response.text
    [coupon] = await api.coupons(late)
    assert coupon["campaign"]["id"] == campaign["id"]
    assert (await api.publish(campaign["id"]))["issued"] == 0
    assert len(await api.coupons(late)) == 1
    events = await api.sql(
        "SELECT count(*) FROM events WHERE type = 'issued' AND coupon_id = :c", c=coupon["id"]
    )
    assert events == [(1,)]


async def test_a_scheduled_campaign_reaches_those_who_register_or_consent_before_it_starts(api: Api) -> None:
    now = api.clock.now()
    starts, ends = now + timedelta(days=2), now + timedelta(days=20)
    campaign = await api.campaign(starts_at=iso(starts), ends_at=iso(ends), coupon_valid_days=None)
    published = await api.publish(campaign["id"])
    assert published["status"] == "done"
    shown = (await api.client.get(f"/api/campaigns/{campaign['id']}", headers=await api.marketer())).json()
    assert shown["status"] == "scheduled"

    newcomer, _ = await api.customer()
    consenting, late = await api.customer(marketing=False)
    await api.client.patch("/api/me", json={"consent": {"marketing": True}}, headers=late)
    window = await api.sql(
        "SELECT customer_id, starts_at, expires_at FROM coupons WHERE campaign_id = :c ORDER BY customer_id",
        c=campaign["id"],
    )
    assert [row[0] for row in window] == [newcomer, consenting]
    # Valid from the campaign's start to its end, as if published to them.
    moments = {(str(row[1])[:19], str(row[2])[:19]) for row in window}
    assert moments == {(f"{starts:%Y-%m-%d %H:%M:%S}", f"{ends:%Y-%m-%d %H:%M:%S}")}


async def test_new_offer_pushes_are_queued_in_the_chunks_transaction(api: Api) -> None:
    """One outbox row per subscription of an owner who consented to push, none for others."""
    consent = {"terms": True, "marketing": True, "push": True}
    _, anna = await api.customer(consent=consent)
    _, bela = await api.customer(consent={**consent, "push": False})
    for customer, device in ((anna, "anna-1"), (anna, "anna-2"), (bela, "bela")):
        subscription = {
            "endpoint": f"https://push.example.com/{device}",
            "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
        }
        response = await api.client.post("/api/me/push-subscriptions", json=subscription, headers=customer)
        assert response.status_code == 201, response.text
    campaign = await api.campaign()
    await api.publish(campaign["id"])
    rows = await api.sql("SELECT count(*) FROM outbox WHERE topic = :t", t=NEW_OFFER)
    assert rows == [(2,)]


class TakingSerials:
    """The store's writer, with other issuers (registrations) taking serials before each of the
    first ``times`` chunks is written."""

    def __init__(self, api: Api, inner: PublishWriter, times: int) -> None:
        self._api = api
        self._inner = inner
        self._left = times

    async def write(self, chunk: Chunk) -> Written:
        if self._left:
            self._left -= 1
            await self._api.sql("UPDATE campaigns SET next_serial = next_serial + 7")
        return await self._inner.write(chunk)

    async def fail(self, job_id: int, error: str, now: Any) -> None:
        await self._inner.fail(job_id, error, now)


async def test_serials_taken_meanwhile_are_skipped_and_nobody_is_left_out(api: Api) -> None:
    customers = [(await api.customer())[0] for _ in range(13)]
    campaign = await api.campaign()
    publishing = api.ctx.publishing
    publishing.chunk, publishing.chunk_range, publishing.page = 3, (3, 3), 5
    publishing._writer = TakingSerials(api, publishing._writer, times=3)
    done = await api.publish(campaign["id"])
    assert (done["eligible"], done["issued"], done["already_had"]) == (13, 13, 0)
    assert await _holdings(api, campaign["id"]) == dict.fromkeys(customers, 1)
    serials = await api.sql(
        "SELECT count(DISTINCT serial) FROM coupons WHERE campaign_id = :c", c=campaign["id"]
    )
    assert serials == [(13,)]


class TillAtEverySlice(SqlitePublishWriter):
    """The SQLite writer, with a till waiting each time a chunk looks between two slices: so
    every part commits early, and the till's turn comes between two transactions."""

    def __init__(self, inner: SqlitePublishWriter) -> None:
        super().__init__(inner._worker)
        self.cursors: list[int] = []

    async def write(self, chunk: Chunk) -> Written:
        cursors = self.cursors

        def work(connection: sqlite3.Connection) -> Written:
            class Tills:
                foreground_waiting = True

                def serve_waiting(self) -> None:
                    assert not connection.in_transaction
                    (cursor,) = connection.execute(
                        "SELECT last_customer_id FROM publish_jobs WHERE id = ?", (chunk.job_id,)
                    ).fetchone()
                    cursors.append(cursor)

            return publish_writers._sqlite_chunk(connection, chunk, Tills())

        return await self._worker.run(work, background=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_chunk_commits_early_for_a_waiting_till_and_still_issues_each_coupon_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers = [(await api.customer())[0] for _ in range(9)]
    campaign = await api.campaign()
    publishing = api.ctx.publishing
    publishing.chunk, publishing.chunk_range = 9, (9, 9)
    assert isinstance(publishing._writer, SqlitePublishWriter)
    till = TillAtEverySlice(publishing._writer)
    publishing._writer = till
    monkeypatch.setattr(publish_writers, "SQLITE_SLICE", 2)

    done = await api.publish(campaign["id"])

    assert (done["status"], done["eligible"], done["issued"], done["already_had"]) == ("done", 9, 9, 0)
    # One chunk of nine in five parts: the till's turn came after each of the first four.
    assert till.cursors == [customers[1], customers[3], customers[5], customers[7]]
    assert await _holdings(api, campaign["id"]) == dict.fromkeys(customers, 1)
    coupons = await api.sql("SELECT id FROM coupons WHERE campaign_id = :c ORDER BY id", c=campaign["id"])
    assert [tuple(row) for row in await _issued_events(api, campaign["id"])] == [(c, 1) for (c,) in coupons]


class PausingAfterFirstChunk:
    """The store's writer, which waits once the first chunk is written until the test lets it
    go on (the app runs on the test client's own thread and loop)."""

    def __init__(self, inner: PublishWriter) -> None:
        self._inner = inner
        self.paused = threading.Event()
        self.go_on = threading.Event()

    async def write(self, chunk: Chunk) -> Written:
        if chunk.after and not self.paused.is_set():
            self.paused.set()
            assert await asyncio.to_thread(self.go_on.wait, 30)
        return await self._inner.write(chunk)

    async def fail(self, job_id: int, error: str, now: Any) -> None:
        await self._inner.fail(job_id, error, now)


async def test_a_job_stops_once_tills_spend_the_campaigns_redemptions_while_it_runs(api: Api) -> None:
    """The job read the campaign's limit when it started; each chunk asks the offer rules again
    in its own transaction, so nobody gets a coupon that could never be used."""
    first, first_headers = await api.customer()
    others = [(await api.customer())[0] for _ in range(8)]
    campaign = await api.campaign(limits={"per_customer": 1, "max_redemptions": 1})
    publishing = api.ctx.publishing
    publishing.chunk, publishing.chunk_range = 3, (3, 3)
    pausing = PausingAfterFirstChunk(publishing._writer)
    publishing._writer = pausing
    marketer, staff = await api.marketer(), await api.staff()

    started = await _publish(api.client, marketer, campaign["id"])
    assert await asyncio.to_thread(pausing.paused.wait, 30)
    (coupon,) = await api.coupons(first_headers)
    assert (await api.redeem(staff, coupon["code"])).status_code == 201
    pausing.go_on.set()
    done = await job_done(api.client, marketer, started["progress_url"])

    assert (done["status"], done["error"], done["issued"]) == ("failed", "limit_reached", 3)
    assert await _holdings(api, campaign["id"]) == dict.fromkeys([first, *others[:2]], 1)


_BULK_CUSTOMERS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO customers (email, tags, attributes, marketing_consent, push_consent, created_at, last_active_at)
SELECT 'audience' || i || '@example.com', '[]', '{}', 1, 0, :now, :now FROM n
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_registration_gets_in_while_a_long_publish_writes_and_holds_one_coupon(api: Api) -> None:
    """The publish writes on the hot-path thread, the registration through the ORM on another
    connection: it waits its turn between two chunks, never for a lock it cannot get."""
    audience = 6_000
    await api.sql(_BULK_CUSTOMERS, count=audience, now=sqlite_time(api.clock.now()))
    campaign = await api.campaign()
    publishing = api.ctx.publishing
    publishing.chunk, publishing.chunk_range = 50, (50, 50)  # over a hundred chunks
    marketer = await api.marketer()

    started = await _publish(api.client, marketer, campaign["id"])
    for _ in range(1_000):
        progress = (await api.client.get(started["progress_url"], headers=marketer)).json()
        if progress["issued"] or progress["status"] != "running":
            break
        await asyncio.sleep(0.005)
    assert progress["status"] == "running"
    assert 0 < progress["issued"] < audience

    registration = {"email": "newcomer@example.com", "consent": {"terms": True, "marketing": True}}
    response = await api.client.post("/api/customers", json=registration)
    assert response.status_code == 201, response.text
    newcomer = response.json()["id"]

    done = await job_done(api.client, marketer, started["progress_url"])
    # The registration issued the newcomer's coupon in its own transaction; the publish found it
    # there (``already_had``) if it read the newcomer at all, and issued everyone else's.
    assert (done["status"], done["eligible"], done["issued"]) == ("done", audience, audience)
    assert done["already_had"] in (0, 1)
    holdings = await _holdings(api, campaign["id"])
    assert len(holdings) == audience + 1
    assert set(holdings.values()) == {1}
    assert newcomer in holdings
