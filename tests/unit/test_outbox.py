"""The outbox: leased claims that two workers never share, backoff, and giving up with the
reason kept — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from tessera.core.clock import FrozenClock
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import Settings, WorkerSettings
from tessera.events.log import event_row
from tessera.models.events import Event
from tessera.models.outbox import OutboxMessage
from tessera.outbox.service import GiveUp, Outbox, OutboxItem, Outcome, RetryLater, delivered_with
from tessera.outbox.worker import OutboxWorker

WORKER = WorkerSettings(embedded=False, max_attempts=3, retry_base_seconds=10, lease_seconds=60)


@pytest.fixture
async def outbox(settings: Settings, clock: FrozenClock) -> AsyncIterator[Outbox]:
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    try:
        yield Outbox(sessions, sessions, clock, WORKER, skip_locked=not settings.database.is_sqlite)
    finally:
        await engine.dispose()


async def add(outbox: Outbox, clock: FrozenClock, count: int, topic: str = "test") -> None:
    async with outbox._sessions.begin() as session:
        await session.execute(
            insert(OutboxMessage),
            [
                {"topic": topic, "target": f"t{n}", "created_at": clock.now(), "available_at": clock.now()}
                for n in range(count)
            ],
        )


async def rows(outbox: Outbox) -> list[OutboxMessage]:
    async with outbox._sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_concurrent_claims_never_share_a_row(outbox: Outbox, clock: FrozenClock) -> None:
    await add(outbox, clock, 60)
    batches = await asyncio.gather(*(outbox.claim(10) for _ in range(8)))
    claimed = [item.id for batch in batches for item in batch]
    assert len(claimed) == len(set(claimed)) == 60
    assert await outbox.claim(10) == []  # all leased
    clock.advance(timedelta(seconds=61))  # the leases ran out: a dead worker's rows come back
    assert len(await outbox.claim(100)) == 60


async def test_urgent_topics_are_claimed_before_an_older_bulk_backlog(
    outbox: Outbox, clock: FrozenClock
) -> None:
    urgent = Outbox(
        outbox._sessions,
        outbox._readers,
        clock,
        WORKER,
        skip_locked=outbox._skip_locked,
        urgent_topics=frozenset({"sign_in_code", "sms_reply"}),
    )
    await add(urgent, clock, 300, "merge_message")  # a merge queued first
    await add(urgent, clock, 2, "sign_in_code")
    await add(urgent, clock, 1, "sms_reply")
    first = await urgent.claim(10)
    assert sorted(item.topic for item in first) == ["merge_message"] * 7 + ["sign_in_code"] * 2 + [
        "sms_reply"
    ]
    assert [item.id for item in first] == sorted(item.id for item in first)
    rest = await urgent.claim(1000)
    assert {item.topic for item in rest} == {"merge_message"}
    assert len(rest) == 293
    # Without urgent topics, the oldest go first: the codes would wait behind the merge.
    clock.advance(timedelta(seconds=61))
    assert {item.topic for item in await outbox.claim(10)} == {"merge_message"}


async def test_retries_back_off_then_give_up_with_the_reason(outbox: Outbox, clock: FrozenClock) -> None:
    await add(outbox, clock, 1)
    calls: list[OutboxItem] = []

    async def flaky(item: OutboxItem) -> None:
        calls.append(item)
        raise RetryLater("service unavailable")

    worker = OutboxWorker(outbox, {"test": flaky}, WORKER)
    assert await worker.run_once() == 1
    (row,) = await rows(outbox)
    assert row.delivered_at is None
    assert row.failed_at is None
    assert row.last_error == "service unavailable"
    assert timedelta(seconds=8) <= row.available_at - clock.now() <= timedelta(seconds=12)
    assert await worker.run_once() == 0  # not due yet
    clock.advance(timedelta(seconds=13))
    assert await worker.run_once() == 1
    clock.advance(timedelta(seconds=25))
    assert await worker.run_once() == 1
    (row,) = await rows(outbox)
    assert row.failed_at is not None
    assert row.attempts == 3
    assert row.last_error is not None
    assert row.last_error.startswith("gave up after 3 attempts")
    clock.advance(timedelta(days=1))
    assert await worker.run_once() == 0
    assert len(calls) == 3


async def test_delivered_and_abandoned_rows_are_done(outbox: Outbox, clock: FrozenClock) -> None:
    await add(outbox, clock, 1, topic="fine")
    await add(outbox, clock, 1, topic="hopeless")
    await add(outbox, clock, 1, topic="unknown")

    async def fine(_: OutboxItem) -> None:
        return None

    async def hopeless(_: OutboxItem) -> None:
        raise GiveUp("the receiver refused it")

    worker = OutboxWorker(outbox, {"fine": fine, "hopeless": hopeless}, WORKER)
    assert await worker.run_once() == 3
    delivered, abandoned, unknown = await rows(outbox)
    assert delivered.delivered_at is not None
    assert abandoned.failed_at is not None
    assert abandoned.last_error == "the receiver refused it"
    assert unknown.failed_at is not None
    assert unknown.last_error is not None
    assert "no handler" in unknown.last_error
    clock.advance(timedelta(days=1))
    assert await worker.run_once() == 0


async def test_a_stopped_worker_records_the_delivery_under_way_and_hands_back_the_rest(
    outbox: Outbox, clock: FrozenClock
) -> None:
    """Stopping (the worker task cancelled, as at a shutdown) mid-batch: the delivery under way
    finishes and is recorded, so it is never sent again; the rows not attempted are handed back
    at once, not held until the lease runs out, with their attempt not counted."""
    await add(outbox, clock, 6)
    called: list[str] = []

    async def stop_during_first(item: OutboxItem) -> None:
        called.append(item.target)
        if item.target == "t0":
            batch.cancel()
            await asyncio.sleep(0)  # the worker learns it must stop while this one is under way

    worker = OutboxWorker(outbox, {"test": stop_during_first}, replace(WORKER, concurrency=1))
    batch = asyncio.create_task(worker.run_once())
    with pytest.raises(asyncio.CancelledError):
        await batch
    assert called == ["t0"]
    first, *rest = await rows(outbox)
    assert first.delivered_at is not None
    assert [(row.claimed_until, row.attempts, row.delivered_at) for row in rest] == [(None, 0, None)] * 5
    assert sorted(item.target for item in await outbox.claim(10)) == ["t1", "t2", "t3", "t4", "t5"]


async def test_a_delivery_recorded_in_its_effects_transaction_holds_only_under_its_own_claim(
    outbox: Outbox, clock: FrozenClock
) -> None:
    """``delivered_with``: a handler whose effect is rows of the database records its delivery in
    the same transaction; a worker whose lease ran out and was taken over records nothing, and
    the worker's own completion of an item so recorded changes nothing."""
    await add(outbox, clock, 1)
    (late,) = await outbox.claim(1)
    clock.advance(timedelta(seconds=61))
    (current,) = await outbox.claim(1)
    async with outbox._sessions.begin() as session:
        assert not await delivered_with(session, late, clock.now())
    (row,) = await rows(outbox)
    assert row.delivered_at is None
    async with outbox._sessions.begin() as session:
        assert await delivered_with(session, current, clock.now())
    clock.advance(timedelta(seconds=1))
    await outbox.complete([Outcome(current)])
    (row,) = await rows(outbox)
    assert (row.delivered_at, row.claimed_until) == (clock.now() - timedelta(seconds=1), None)


async def events(outbox: Outbox) -> list[tuple[str, str | None]]:
    async with outbox._sessions() as session:
        return [
            tuple(row) for row in await session.execute(select(Event.type, Event.channel).order_by(Event.id))
        ]


async def test_a_failure_s_events_are_written_only_when_it_gives_the_row_up(
    outbox: Outbox, clock: FrozenClock
) -> None:
    """Retried failures write nothing; the give-up (after the last attempt, or at once) writes
    the failure's ``if_given_up`` rows in the same transaction that marks the row failed."""
    await add(outbox, clock, 1, topic="flaky")
    await add(outbox, clock, 1, topic="hopeless")

    def failed(target: str) -> list[dict[str, object]]:
        return [event_row("message_failed", clock.now(), channel="sms", data={"target": target})]

    async def flaky(item: OutboxItem) -> None:
        raise RetryLater("service unavailable").given_up_as(failed(item.target))

    async def hopeless(item: OutboxItem) -> None:
        raise GiveUp("the receiver refused it").given_up_as(failed(item.target))

    worker = OutboxWorker(outbox, {"flaky": flaky, "hopeless": hopeless}, WORKER)
    assert await worker.run_once() == 2
    assert await events(outbox) == [("message_failed", "sms")]  # the hopeless one's
    for _ in range(WORKER.max_attempts - 1):
        clock.advance(timedelta(minutes=5))
        assert await worker.run_once() == 1
        (row, _) = await rows(outbox)
    assert row.failed_at is not None
    assert await events(outbox) == [("message_failed", "sms")] * 2


async def test_a_worker_that_lost_its_lease_records_no_give_up(outbox: Outbox, clock: FrozenClock) -> None:
    await add(outbox, clock, 1)
    (late,) = await outbox.claim(1)
    clock.advance(timedelta(seconds=61))
    (current,) = await outbox.claim(1)
    refusal = GiveUp("refused").given_up_as([event_row("message_failed", clock.now(), channel="sms")])
    await outbox.complete([Outcome(late, refusal)])
    assert await events(outbox) == []
    (row,) = await rows(outbox)
    assert row.failed_at is None
    await outbox.complete([Outcome(current, refusal)])
    assert await events(outbox) == [("message_failed", "sms")]
