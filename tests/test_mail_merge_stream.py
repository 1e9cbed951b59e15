"""How a mail merge streams: each chunk's lines leave once that chunk is issued (not after the
whole list), and work that stops part-way ends the answer with an error line, the lines before
it standing."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from tessera.coupons.models import Coupon
from tessera.mailmerge.services import CHUNK
from tests.support import Api
from tests.test_mail_merge import lines_of, merge, merge_body, seed_customers, spring


async def test_each_chunk_is_sent_once_it_is_issued(api: Api) -> None:
    await spring(api)
    customers = await seed_customers(api, 2 * CHUNK + 500)
    body = merge_body([{"customer_id": customer_id} for customer_id in customers])
    marketer = await api.marketer()
    app: Any = api.client.app
    sent: list[tuple[int, int]] = []  # (lines in a body message, e-mail coupons at that moment)

    async def run() -> None:
        """One request straight into the app (the test client would buffer the answer); every
        body message counts the coupons issued when it leaves."""
        received = False
        complete = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            await complete.wait()  # the client stays until the answer is whole
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                assert message["status"] == 200
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                complete.set()
            if message["type"] == "http.response.body" and message.get("body"):
                async with app.state.ctx.readers() as session:
                    count = await session.scalar(
                        select(func.count()).select_from(Coupon).where(Coupon.channel == "email")
                    )
                sent.append((message["body"].count(b"\n"), int(count or 0)))

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/mail-merges",
            "raw_path": b"/api/mail-merges",
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"authorization", marketer["Authorization"].encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        await app(scope, receive, send)

    api.client.blocking_portal.call(run)  # type: ignore[attr-defined]
    assert sent == [
        (CHUNK, CHUNK),
        (CHUNK, 2 * CHUNK),
        (500, 2 * CHUNK + 500),
        (1, 2 * CHUNK + 500),  # the end line
    ]


async def test_work_that_stops_part_way_ends_with_an_error_line(api: Api) -> None:
    campaign = await spring(api, code={"format": "ean13"})
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
