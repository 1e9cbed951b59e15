"""Stopping a server (SIGTERM, as an orchestrator does) drains what it is serving: a CSV export
in the middle of its stream arrives whole, redemptions on the wire are answered or never
started, and the process exits cleanly."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tessera.auth.services import create_api_key
from tessera.core.clock import SystemClock
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import Settings
from tests.support.fixed_values import TEST_SECRET
from tests.support.servers import free_port, server_env, tessera_serve, until_healthy

pytestmark = pytest.mark.slow

CODES = 150_000  # more than the loopback socket buffers hold: the stream is still going


async def _marketer(settings: Settings) -> dict[str, str]:
    engine = create_engine(settings.database)
    try:
        key = await create_api_key(session_factory(engine), SystemClock(), "shutdown test", "marketer")
    finally:
        await engine.dispose()
    return {"Authorization": f"Bearer {key}"}


async def test_sigterm_drains_requests_in_flight(settings: Settings, tmp_path: Path) -> None:
    marketer = await _marketer(settings)
    port = free_port()
    log = tmp_path / "server.log"
    # A busy machine streams the export for longer than the default grace; the test is about
    # what the grace lets finish, not its length.
    env = server_env(settings.database.url, tmp_path, TEST_SECRET) | {"TESSERA_SHUTDOWN_GRACE_SECONDS": "120"}
    process = tessera_serve(env, port, log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        limits = httpx.Limits(max_connections=80, max_keepalive_connections=80)
        async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
            await until_healthy(client, process, log)
            now = datetime.now(UTC)
            campaign = await client.post(
                "/api/campaigns",
                headers=marketer,
                json={
                    "name": "Drain",
                    "discount": {"kind": "percent", "value": 10},
                    "starts_at": (now - timedelta(hours=1)).isoformat(),
                    "ends_at": (now + timedelta(days=1)).isoformat(),
                    "limits": {"per_customer": None},
                },
            )
            assert campaign.status_code == 201, campaign.text
            batch = await client.post(
                f"/api/campaigns/{campaign.json()['id']}/codes", json={"count": CODES}, headers=marketer
            )
            assert batch.status_code == 202, batch.text
            for _ in range(600):
                progress = await client.get(batch.json()["progress_url"], headers=marketer)
                if progress.json()["status"] == "done":
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the code batch did not finish")
            store = (await client.post("/api/stores", json={"name": "Drain"}, headers=marketer)).json()["id"]
            password = "drain-test-password"
            body = {"username": "drainer", "password": password, "store_id": store}
            assert (await client.post("/api/staff", json=body, headers=marketer)).status_code == 201
            login = await client.post(
                "/api/auth/staff/login", json={"username": "drainer", "password": password}
            )
            staff = {"Authorization": f"Bearer {login.json()['token']}"}

            async with client.stream("GET", batch.json()["export_url"], headers=marketer) as export:
                assert export.status_code == 200
                chunks = export.aiter_bytes()
                received = [await anext(chunks)]  # the export is under way

                codes = list(csv.DictReader(io.StringIO(await _first_codes(client, batch.json(), marketer))))
                # The redemptions are under way when the signal arrives: one raw keep-alive
                # connection each, opened beforehand, all written at once; the signal follows
                # the first answer, so the server has been reading them.
                # Connected, with no request answered yet: the server's keep-alive timeout (5 s),
                # which starts after an answer, cannot close them while the others connect.
                wires = [await _Wire.connect(port) for _ in range(64)]
                idle = await _Wire.open(port)  # a till's keep-alive connection, quiet at the signal
                try:
                    for number, (wire, row) in enumerate(zip(wires, codes[:64], strict=True)):
                        wire.send_redeem(row["code"], staff, f"drain-{number}")
                    await asyncio.gather(*(wire.drain() for wire in wires))
                    pending = [asyncio.ensure_future(wire.answer()) for wire in wires]
                    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    await idle.health()  # its keep-alive timeout starts again now
                    process.send_signal(signal.SIGTERM)
                    await _until_refused(port)  # the shutdown has begun
                    idle.send_redeem(codes[64]["code"], staff, "drain-idle")
                    received.extend([chunk async for chunk in chunks])
                    answers = await asyncio.gather(*pending, idle.answer())
                finally:
                    for wire in [*wires, idle]:
                        wire.writer.close()

            rows = list(csv.DictReader(io.StringIO(b"".join(received).decode())))
            assert len(rows) == CODES  # the stream in flight was finished, not cut

        # Every redemption on the wire was answered and redeemed, those still unread in a
        # socket's buffer when the signal came included (``tessera.http.serving``).
        assert [status for status, _ in answers] == [201] * (len(wires) + 1)
        # uvicorn re-raises the signal once it has shut down gracefully, as supervisors expect.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert b"Traceback" not in log.read_bytes()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    # Every acknowledged redemption is in the database; nothing else was redeemed.
    engine = create_engine(settings.database)
    try:
        async with session_factory(engine)() as session:
            redeemed = (await session.execute(text("SELECT coupon_id FROM redemptions"))).scalars().all()
    finally:
        await engine.dispose()
    assert sorted(redeemed) == sorted(json.loads(body)["coupon_id"] for _, body in answers)


class _Wire:
    """One keep-alive HTTP/1.1 connection written to directly."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        self.reader, self.writer, self.port = reader, writer, port

    @classmethod
    async def connect(cls, port: int) -> _Wire:
        return cls(*await asyncio.open_connection("127.0.0.1", port), port)

    @classmethod
    async def open(cls, port: int) -> _Wire:
        """Connected, and one request answered on it: an idle keep-alive connection."""
        wire = await cls.connect(port)
        await wire.health()
        return wire

    async def health(self) -> None:
        self.writer.write(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode())
        status, _ = await self.answer()
        assert status == 200

    def send_redeem(self, code: str, staff: dict[str, str], key: str) -> None:
        body = json.dumps({"code": code}).encode()
        head = (
            f"POST /api/redemptions HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: {staff['Authorization']}\r\nIdempotency-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)

    async def drain(self) -> None:
        await self.writer.drain()

    async def answer(self) -> tuple[int | None, bytes]:
        """The status and body; ``(None, b"")`` when the server closed the connection first."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as closed:
            if closed.partial:
                raise AssertionError("the server closed the connection mid-answer") from closed
            return None, b""
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return int(head[9:12]), await self.reader.readexactly(length)


async def _until_refused(port: int) -> None:
    """Until the server has stopped listening: its graceful shutdown has begun."""
    for _ in range(1000):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        writer.close()
        await asyncio.sleep(0.005)
    raise AssertionError("the server kept listening after the signal")


async def _first_codes(client: httpx.AsyncClient, batch: dict[str, str], marketer: dict[str, str]) -> str:
    """The batch's first codes, from a second (short) export."""
    lines = []
    async with client.stream("GET", batch["export_url"], headers=marketer) as export:
        async for line in export.aiter_lines():
            lines.append(line)
            if len(lines) > 65:  # the header and 65 codes
                break
    return "\n".join(lines)
