"""Web Push notifications delivered per second through the real outbox, against a bare
``webpush_async`` sender to the same local sink, in the same run.

Real path: a migrated SQLite database with ``--subscriptions`` consenting customers, one push
subscription each; publishing a campaign (``campaigns.publishing.publish_inline``) queues one
outbox row per subscription in its transaction; then, timed, the worker (``OutboxWorker`` + ``PushDelivery`` +
``WebPushSender``, as ``tessera.worker`` wires them) drains the outbox: per message it reads the
subscription and coupon, composes the notification, encrypts (aes128gcm), signs VAPID, POSTs,
and records the delivery.

Bare baseline: the same number of ``webpush_async`` calls (same VAPID key, same subscription
keys, a message of the same size, one shared aiohttp session) with the worker's concurrency.

The sink is a separate process answering 201 to every POST without decrypting, so neither side
pays for the receiver. Target: the outbox reaches at least 50% of the bare rate.

    .venv/bin/python scripts/bench_push.py [--subscriptions 10000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import webpush_async
from sqlalchemy import insert

from tessera.assembly.devkit import with_development_credentials
from tessera.assembly.migrate import upgrade
from tessera.campaigns.publishing import publish_inline
from tessera.campaigns.schemas import CampaignCreate, Discount
from tessera.campaigns.services import CampaignService
from tessera.codes.keys import CodeKeys
from tessera.core.clock import FrozenClock
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import DatabaseSettings, Settings, WorkerSettings
from tessera.models.customers import Customer
from tessera.models.push import PushSubscription
from tessera.outbox.service import Outbox
from tessera.outbox.worker import OutboxWorker
from tessera.push.sender import WebPushSender
from tessera.push.services import EXPIRY_REMINDER, NEW_OFFER, PushDelivery
from tessera.push.vapid import b64url, load_private_key

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def sink(port: int) -> None:
    """Answer 201 to every HTTP/1.1 request on keep-alive connections."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def subscriber_keys() -> dict[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {"p256dh": b64url(point), "auth": b64url(b"0123456789abcdef")}


async def seed(settings: Settings, count: int, endpoint: str, keys: dict[str, str]) -> None:
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    try:
        async with sessions.begin() as session:
            await session.execute(
                insert(Customer),
                [
                    {
                        "email": f"c{n}@bench.invalid",
                        "tags": [],
                        "attributes": {},
                        "marketing_consent": True,
                        "push_consent": True,
                        "created_at": NOW,
                    }
                    for n in range(count)
                ],
            )
            await session.execute(
                insert(PushSubscription),
                [
                    {
                        "customer_id": n + 1,
                        "endpoint": f"{endpoint}/{n}",
                        "p256dh": keys["p256dh"],
                        "auth": keys["auth"],
                        "created_at": NOW,
                    }
                    for n in range(count)
                ],
            )
            code_keys = CodeKeys(settings.security.code_secret)
            campaigns = CampaignService(code_keys, settings.codes, settings.currency)
            campaign = await campaigns.create(
                session,
                CampaignCreate(
                    name="Bench offer",
                    discount=Discount("percent", 10),
                    starts_at=NOW - timedelta(hours=1),
                    ends_at=NOW + timedelta(days=30),
                ),
                NOW,
            )
            await publish_inline(session, code_keys, campaign, NOW)
    finally:
        await engine.dispose()


async def through_outbox(settings: Settings, count: int) -> float:
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    readers = session_factory(create_engine(settings.database, read_only=True))
    clock = FrozenClock(NOW)
    sender = WebPushSender(settings.push.vapid_private_key, settings.push.vapid_subject)
    delivery = PushDelivery(sessions, readers, clock, sender, settings.push)
    outbox = Outbox(sessions, readers, clock, settings.worker, skip_locked=False)
    worker = OutboxWorker(
        outbox,
        {NEW_OFFER: delivery.deliver, EXPIRY_REMINDER: delivery.deliver},
        settings.worker,
        prefetch={NEW_OFFER: delivery.prefetch, EXPIRY_REMINDER: delivery.prefetch},
    )
    try:
        started = time.perf_counter()
        handled = 0
        while (batch := await worker.run_once()) > 0:
            handled += batch
        elapsed = time.perf_counter() - started
    finally:
        await sender.aclose()
        await engine.dispose()
    if handled != count:
        raise SystemExit(f"expected {count} notifications, the outbox handled {handled}")
    return count / elapsed


async def bare(
    settings: Settings, count: int, endpoint: str, keys: dict[str, str], concurrency: int
) -> float:
    vapid = Vapid02(private_key=load_private_key(settings.push.vapid_private_key))
    slots = asyncio.Semaphore(concurrency)
    data = json.dumps(
        {"kind": "new_offer", "title": "New coupon: Bench offer", "body": "10% off", "url": "/#c"}
    )
    async with aiohttp.ClientSession() as session:

        async def one(n: int) -> None:
            async with slots:
                response = await webpush_async(
                    {"endpoint": f"{endpoint}/{n}", "keys": keys},
                    data,
                    vapid_private_key=vapid,
                    vapid_claims={"sub": settings.push.vapid_subject},
                    ttl=3600,
                    headers={"Urgency": "normal"},
                    aiohttp_session=session,
                )
                if isinstance(response, aiohttp.ClientResponse):
                    response.release()

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        asyncio.run(sink(args.sink))
        return
    port = free_port()
    sink_process = subprocess.Popen([sys.executable, __file__, "--sink", str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        endpoint = f"http://127.0.0.1:{port}/push"
        with tempfile.TemporaryDirectory() as folder:
            settings = with_development_credentials(
                Settings(
                    data_dir=Path(folder),
                    log_level="WARNING",
                    database=DatabaseSettings(url=f"sqlite+aiosqlite:///{folder}/bench.db"),
                    worker=WorkerSettings(embedded=False),
                ).checked()
            )
            upgrade(settings.database.url)
            keys = subscriber_keys()
            asyncio.run(seed(settings, args.subscriptions, endpoint, keys))
            baseline = asyncio.run(
                bare(settings, args.subscriptions, endpoint, keys, settings.worker.concurrency)
            )
            real = asyncio.run(through_outbox(settings, args.subscriptions))
    finally:
        sink_process.terminate()
        sink_process.wait()
    result = {
        "subscriptions": args.subscriptions,
        "outbox_per_second": round(real, 1),
        "bare_per_second": round(baseline, 1),
        "ratio": round(real / baseline, 3),
        "target_ratio": 0.5,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"bare webpush_async : {baseline:8.1f} notifications/s")
    print(f"through the outbox : {real:8.1f} notifications/s  ({args.subscriptions} subscriptions)")
    print(f"ratio              : {real / baseline:8.3f}   (target >= 0.5)")


if __name__ == "__main__":
    main()
