"""How a mail merge streams: each chunk's lines leave once that chunk is issued (not after the
whole list), and work that stops part-way ends the answer with an error line, the lines before
it standing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from tessera.mailmerge.services import CHUNK
from tessera.models.coupons import Coupon
from tests.support.api import Api, Headers
from tests.support.asgi import call_app
from tests.support.mail_merge import lines_of, merge, merge_body, published_spring_campaign, seed_customers


def merging(marketer: Headers, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [
        (b"authorization", marketer["Authorization"].encode()),
        (b"content-type", b"application/json"),
        *extra,
    ]


async def test_each_chunk_is_sent_once_it_is_issued(api: Api) -> None:
    await published_spring_campaign(api)
    customers = await seed_customers(api, 2 * CHUNK + 500)
    body = merge_body([{"customer_id": customer_id} for customer_id in customers])
    marketer = await api.marketer()
    app: Any = api.client.app
    sent: list[tuple[int, int]] = []  # (lines in a body message, e-mail coupons at that moment)

    async def count_coupons(message: dict[str, Any]) -> None:
        """Every body message counts the coupons issued when it leaves."""
        if message["type"] == "http.response.start":
            assert message["status"] == 200
        if message["type"] == "http.response.body" and message.get("body"):
            async with app.state.ctx.readers() as session:
                count = await session.scalar(
                    select(func.count()).select_from(Coupon).where(Coupon.channel == "email")
                )
            sent.append((message["body"].count(b"\n"), int(count or 0)))

    async def run() -> None:
        await call_app(
            app, "POST", "/api/mail-merges", headers=merging(marketer), body=body, on_send=count_coupons
        )

    api.client.blocking_portal.call(run)  # type: ignore[attr-defined]
    assert sent == [
        (CHUNK, CHUNK),
        (CHUNK, 2 * CHUNK),
        (500, 2 * CHUNK + 500),
        (1, 2 * CHUNK + 500),  # the end line
    ]


async def test_work_that_stops_part_way_ends_with_an_error_line(api: Api) -> None:
    campaign = await published_spring_campaign(api, code={"format": "ean13"})
    customers = await seed_customers(api, CHUNK + 500)
    # An EAN-13 campaign holds 1,000,000 codes: room for the first chunk only.
    await api.sql(
        "UPDATE campaigns SET next_serial = :n WHERE id = :c", n=1_000_000 - CHUNK, c=campaign["id"]
    )
    recipients = [{"customer_id": customer_id} for customer_id in customers]
    first = await merge(api, recipients, key="stops")
    *messages, error = lines_of(first)
    assert len(messages) == CHUNK
    assert {m["type"] for m in messages} == {"message"}
    assert error["type"] == "error"
    assert error["processed"] == CHUNK
    assert error["problem"]["code"] == "code_space_exhausted"
    assert error["problem"]["status"] == 422
    assert error["problem"]["type"] == "urn:tessera:problem:code_space_exhausted"
    issued = await api.sql("SELECT count(*) FROM coupons WHERE channel = 'email'")
    assert issued[0][0] == CHUNK

    # The key was let go (the answer was not whole): the retry runs, with the same codes.
    again = await merge(api, recipients, key="stops")
    assert "Idempotent-Replayed" not in again.headers
    assert again.text.splitlines()[:CHUNK] == first.text.splitlines()[:CHUNK]
    assert again.text.splitlines()[-1] == first.text.splitlines()[-1]
    assert (await api.sql("SELECT count(*) FROM idempotency_keys"))[0][0] == 0


async def test_a_client_that_leaves_part_way_lets_its_key_go(api: Api) -> None:
    """A dropped connection ends the work; the reservation is released at once (not left to run
    out), so the retry runs now and hands out the codes the first chunk already issued."""
    await published_spring_campaign(api)
    customers = await seed_customers(api, 2 * CHUNK + 500)
    recipients = [{"customer_id": customer_id} for customer_id in customers]
    marketer = await api.marketer()
    app: Any = api.client.app

    async def leave() -> list[dict[str, Any]]:
        return await call_app(
            app,
            "POST",
            "/api/mail-merges",
            headers=merging(marketer, (b"idempotency-key", b"leaves")),
            body=merge_body(recipients),
            leave_after_bodies=1,
        )

    sent = api.client.blocking_portal.call(leave)  # type: ignore[attr-defined]
    bodies = [message["body"] for message in sent if message["type"] == "http.response.body"]
    first_chunk = b"".join(bodies).decode().splitlines()
    assert len(first_chunk) <= 2 * CHUNK, "the work went on after the client left"
    assert await api.sql("SELECT key FROM idempotency_keys") == []

    again = await merge(api, recipients, key="leaves")
    assert "Idempotent-Replayed" not in again.headers
    lines = again.text.splitlines()
    assert len(lines) == len(recipients) + 1
    assert lines[:CHUNK] == first_chunk[:CHUNK]
    issued = await api.sql("SELECT count(*) FROM coupons WHERE channel = 'email'")
    assert issued[0][0] == len(recipients)
