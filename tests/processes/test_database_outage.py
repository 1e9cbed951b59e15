"""The database going away mid-service: every request answers 503 with a problem document and
changes nothing, and service resumes by itself when the database is back.

The app reaches PostgreSQL through a local TCP relay that the test cuts (every connection
dropped, new ones refused) and restores.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.support.api import Api, problem
from tests.support.postgres import PG_HOST, PG_PORT, empty_postgres

pytestmark = pytest.mark.postgres


class Relay:
    """A TCP relay to PostgreSQL on a loop of its own thread (the app under test runs its own
    loop), which the test can cut and restore."""

    def __init__(self) -> None:
        self.cut_off = False
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop
        ).result()
        self.port: int = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.transport.abort()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(PG_HOST, PG_PORT)
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self._writers.discard(writer)

    def _run(self, action: Callable[[], None]) -> None:
        async def run() -> None:
            action()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result()

    def cut(self) -> None:
        def cut() -> None:
            self.cut_off = True
            for writer in list(self._writers):
                writer.transport.abort()

        self._run(cut)

    def restore(self) -> None:
        def restore() -> None:
            self.cut_off = False

        self._run(restore)

    def close(self) -> None:
        self.cut()
        self._run(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = Relay()
    yield relay
    relay.close()


@pytest.fixture
async def database_url(postgres_url: str, relay: Relay) -> str:
    """PostgreSQL only, through the relay."""
    await empty_postgres(postgres_url)
    return postgres_url.replace(f"@{PG_HOST}:{PG_PORT}/", f"@127.0.0.1:{relay.port}/")


async def test_requests_during_an_outage_answer_503_and_change_nothing(api: Api, relay: Relay) -> None:
    campaign = await api.campaign()
    _, customer = await api.customer()
    await api.publish(campaign["id"])
    code = str((await api.coupons(customer))[0]["code"])
    staff = await api.staff()

    relay.cut()
    during = [
        await api.redeem(staff, code, key="outage-1"),
        await api.client.post("/api/redemptions/validate", json={"code": code}, headers=staff),
        await api.client.get("/api/me/coupons", headers=customer),
        await api.client.get("/api/campaigns", headers=await api.marketer()),
    ]
    for answer in during:
        body = problem(answer, 503, "service_unavailable")
        assert answer.headers["retry-after"] == "1"
        assert "nothing was changed" in body["detail"]
    health = await api.client.get("/health")
    assert health.status_code == 503

    relay.restore()
    answers = [await api.redeem(staff, code, key="outage-1") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [201, 201, 201]  # the first, then replays
    assert answers[1].headers.get("idempotent-replayed") == "true"
    assert await api.sql("SELECT count(*) FROM redemptions") == [(1,)]
    assert (await api.client.get("/health")).status_code == 200
