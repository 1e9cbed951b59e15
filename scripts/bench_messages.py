"""Messages through the real server and the outbox, each against a bare baseline in the same run.

What is measured
    *(a) Inbound SMS.* ``--messages`` signed ``POST /api/sms/inbound`` requests (``HELP`` from as
    many different numbers, each body signed with HMAC-SHA256 like a gateway does) at
    ``--concurrency`` keep-alive connections, against the real server (``uvicorn --factory
    tessera.app:app_from_env``, the flags ``tessera serve`` uses) with its worker *not* embedded,
    as at scale (``tessera worker`` processes): per message it checks the signature, reads the
    text, records the gateway id, looks the number up, queues the reply in the outbox and writes
    the ``sms_received`` event, in one transaction (for HELP, the raw path of ``sms.writers``;
    keywords and codes from customers take the SQLAlchemy path, not timed here). The bare
    baseline is a minimal Litestar app in this file, served the same way: the same HMAC check of
    the raw body, the body decoded into the same struct, and the same single insert into
    ``sms_inbound`` with ``ON CONFLICT DO NOTHING`` (stdlib ``sqlite3`` / an asyncpg pool of 10,
    the product's pool size). Both are driven by the same raw HTTP/1.1 load generator; printed:
    messages/s, p50 and p99 latency.

    *(b) Outbound deliveries.* The replies the real run queued (``--messages`` plus the untimed
    tenth sent first, as ``sms_reply`` outbox rows) are delivered by a ``tessera worker`` process
    to a local sink: a separate process that recomputes the HMAC of every body and counts what it
    accepts. Timed from the first to the last message the sink accepts (so the worker's start-up
    is not counted): per message the claim, the reply composed in the customer's language, the
    signed POST, and the completion with its ``message_sent`` event (checked: one per delivery).
    The bare baseline: as many signed httpx POSTs of bodies of the same shape to the same sink at
    the worker's concurrency (16).

    Target for each: the real path reaches at least 0.5x its baseline. A missed target is printed,
    never a failing exit.

How to run (from the repository root)
    .venv/bin/python scripts/bench_messages.py                    # SQLite, 10,000 messages
    .venv/bin/python scripts/bench_messages.py --store postgres --messages 10000 --json

    PostgreSQL runs create and drop the database ``tessera_bench_messages``; SQLite runs use a
    temporary directory. Both are removed at the end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
from litestar import Litestar, Request, get, post
from litestar.response import Response

from bench_redeem import (
    HOST,
    SQLITE_TIME_FORMAT,
    Interrupted,
    Processes,
    _clean_env,
    _Connections,
    _drive,
    _on_sigterm,
    _percentile,
    _pg_admin,
    _pg_fetchval,
    run_cli,
    start_server,
)
from tessera.core.db.engine import SQLITE_PRAGMAS
from tessera.messages.webhook import Message
from tessera.sms.service import InboundSms
from tessera.sms.texts import reply_text

SCRIPT = Path(__file__).resolve()
PG_DB = "tessera_bench_messages"
GATEWAY_NUMBER = "+3620000000"
WORKER_CONCURRENCY = 16  # tessera.core.settings.WorkerSettings.concurrency
TARGET = 0.5


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------------------------
# The bare inbound handler, loaded by uvicorn as ``bench_messages:bare_app`` (``--factory``).
# --------------------------------------------------------------------------------------------

_SQLITE_INSERT = (
    "INSERT INTO sms_inbound (gateway_id, from_number, to_number, customer_id, reply, received_at, "
    "created_at) VALUES (?, ?, ?, NULL, 'help', ?, ?) ON CONFLICT (gateway_id) DO NOTHING RETURNING id"
)
_PG_INSERT = (
    "INSERT INTO sms_inbound (gateway_id, from_number, to_number, customer_id, reply, received_at, "
    "created_at) VALUES ($1, $2, $3, NULL, 'help', $4, $4) ON CONFLICT (gateway_id) DO NOTHING RETURNING id"
)


@dataclass
class _Bare:
    secret: str = ""
    sqlite: sqlite3.Connection | None = None
    pool: Any = None


_BARE = _Bare()
_UNSIGNED = Response(b'{"code":"invalid_signature"}', status_code=401, media_type="application/json")


def _answer(message: InboundSms, inserted: object) -> Response[bytes]:
    body = msgspec.json.encode({"id": message.id, "duplicate": inserted is None})
    return Response(body, media_type="application/json")


@post("/api/sms/inbound", status_code=200)
async def _bare_sqlite(request: Request[Any, Any, Any]) -> Response[bytes]:
    body = await request.body()
    if not hmac.compare_digest(request.headers.get("x-tessera-signature", ""), sign(_BARE.secret, body)):
        return _UNSIGNED
    message = msgspec.json.decode(body, type=InboundSms)
    assert _BARE.sqlite is not None
    now = datetime.now(UTC).strftime(SQLITE_TIME_FORMAT)
    row = _BARE.sqlite.execute(_SQLITE_INSERT, (message.id, message.from_, message.to, now, now)).fetchone()
    return _answer(message, row)


@post("/api/sms/inbound", status_code=200)
async def _bare_postgres(request: Request[Any, Any, Any]) -> Response[bytes]:
    body = await request.body()
    if not hmac.compare_digest(request.headers.get("x-tessera-signature", ""), sign(_BARE.secret, body)):
        return _UNSIGNED
    message = msgspec.json.decode(body, type=InboundSms)
    inserted = await _BARE.pool.fetchval(_PG_INSERT, message.id, message.from_, message.to, datetime.now(UTC))
    return _answer(message, inserted)


@get("/health", cache=False)
async def _bare_health() -> str:
    return "ok"


def bare_app() -> Litestar:
    """Factory for uvicorn; configured by ``BENCH_BARE_*`` and ``TESSERA_SMS_INBOUND_SECRET``."""
    kind = os.environ["BENCH_BARE_DB"]
    target = os.environ["BENCH_BARE_TARGET"]

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        _BARE.secret = os.environ["TESSERA_SMS_INBOUND_SECRET"]
        if kind == "sqlite":
            connection = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            for pragma in SQLITE_PRAGMAS:
                connection.execute(pragma)
            _BARE.sqlite = connection
        else:
            _BARE.pool = await asyncpg.create_pool(target, min_size=1, max_size=10)
        try:
            yield
        finally:
            if _BARE.sqlite is not None:
                _BARE.sqlite.close()
            if _BARE.pool is not None:
                await _BARE.pool.close()

    handler = _bare_sqlite if kind == "sqlite" else _bare_postgres
    return Litestar(route_handlers=[handler, _bare_health], lifespan=[lifespan], debug=False)


# --------------------------------------------------------------------------------------------
# The sink of the message webhook: a child process (``bench_messages.py _sink PORT SECRET``).
# --------------------------------------------------------------------------------------------


async def sink(port: int, secret: str) -> None:
    """Answer 204 to every POST whose ``X-Tessera-Signature`` is the HMAC of its body (401
    otherwise); ``GET /count`` answers the accepted and refused counts and the times (epoch
    seconds) of the first and last accepted message; ``POST /reset`` starts counting afresh."""
    state: dict[str, Any] = {"accepted": 0, "refused": 0, "first": None, "last": None}
    key = secret.encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                method, path = lines[0].split(b" ")[:2]
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(b":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
                if method == b"GET" and path == b"/count":
                    answer = json.dumps(state).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
                    continue
                if path == b"/reset":
                    state.update(accepted=0, refused=0, first=None, last=None)
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                    continue
                expected = b"sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest().encode()
                if hmac.compare_digest(headers.get(b"x-tessera-signature", b""), expected):
                    now = time.time()
                    state["accepted"] += 1
                    state["first"] = state["first"] or now
                    state["last"] = now
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                else:
                    state["refused"] += 1
                    writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, HOST, port, backlog=1024)
    async with server:
        await server.serve_forever()


def sink_count(port: int) -> dict[str, Any]:
    counted: dict[str, Any] = httpx.get(f"http://{HOST}:{port}/count", timeout=5).json()
    return counted


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


# --------------------------------------------------------------------------------------------
# (a) inbound
# --------------------------------------------------------------------------------------------


def inbound_requests(secret: str, prefix: str, count: int, port: int) -> list[bytes]:
    requests = []
    for n in range(count):
        body = json.dumps(
            {"id": f"{prefix}-{n}", "from": f"+3630{n:07d}", "to": GATEWAY_NUMBER, "text": "HELP"}
        ).encode()
        requests.append(
            b"POST /api/sms/inbound HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            b"X-Tessera-Signature: %s\r\nContent-Length: %d\r\n\r\n%s"
            % (HOST.encode(), port, sign(secret, body).encode(), len(body), body)
        )
    return requests


async def drive(port: int, requests: list[bytes], concurrency: int) -> dict[str, Any]:
    connections = _Connections(HOST, port, concurrency)
    await connections.open()
    try:
        started = time.perf_counter_ns()
        latencies, _, statuses = await _drive(connections, requests)
        elapsed = (time.perf_counter_ns() - started) / 1e9
    finally:
        connections.close()
    if statuses != {200: len(requests)}:
        raise RuntimeError(f"unexpected answers: {dict(statuses)}")
    ordered = sorted(latencies)
    return {
        "per_second": round(len(requests) / elapsed, 1),
        "p50_ms": round(_percentile(ordered, 0.5), 1),
        "p99_ms": round(_percentile(ordered, 0.99), 1),
    }


# --------------------------------------------------------------------------------------------
# (b) outbound
# --------------------------------------------------------------------------------------------


def wait_for(port: int, count: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counted = sink_count(port)
        if counted["accepted"] >= count:
            return counted
        time.sleep(0.1)
    raise RuntimeError(f"the sink has {sink_count(port)} after {timeout:.0f} s, expected {count}")


def recorded_as_sent(kind: str, target: str, count: int) -> int:
    """The ``message_sent`` events, once the worker has completed every delivery (the sink sees
    a message before the worker records it)."""
    query = "SELECT count(*) FROM events WHERE type = 'message_sent'"
    recorded = 0
    for _ in range(100):
        if kind == "sqlite":
            with contextlib.closing(sqlite3.connect(target)) as connection:
                (recorded,) = connection.execute(query).fetchone()
        else:
            recorded = asyncio.run(_pg_fetchval(target, query))
        if recorded >= count:
            break
        time.sleep(0.1)
    return int(recorded)


def delivery_rate(counted: dict[str, Any], count: int) -> float:
    span = counted["last"] - counted["first"]
    return round((count - 1) / span, 1) if span > 0 else float("inf")


async def bare_posts(url: str, secret: str, count: int, concurrency: int) -> None:
    """Signed POSTs of replies shaped like the worker's, ``concurrency`` at a time."""
    text = reply_text("help", None, url="http://127.0.0.1:8000/")
    bodies = [
        msgspec.json.encode(
            Message(
                id=f"bare-reply-{n}",
                to=f"+3630{n:07d}",
                channel="sms",
                kind="sms_help",
                locale="en",
                subject="Tessera",
                text=text,
            )
        )
        for n in range(count)
    ]
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=10) as client:

        async def one(body: bytes) -> None:
            async with slots:
                headers = {"content-type": "application/json", "X-Tessera-Signature": sign(secret, body)}
                response = await client.post(url, content=body, headers=headers)
                response.raise_for_status()

        await asyncio.gather(*(one(body) for body in bodies))


# --------------------------------------------------------------------------------------------


def bench_store(kind: str, args: argparse.Namespace, emit: Any) -> dict[str, Any]:
    processes = Processes()
    workdir = Path(tempfile.mkdtemp(prefix=f"tessera-bench-msg-{kind}-", dir=args.tmp_dir))
    admin_dsn = f"postgresql://{args.pg_server}/{args.pg_admin_db}"
    created = False
    inbound_secret = secrets.token_urlsafe(36)
    webhook_secret = secrets.token_urlsafe(36)
    try:
        if kind == "sqlite":
            target = str(workdir / "tessera.db")
            url = f"sqlite+aiosqlite:///{target}"
        else:
            statements = (f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)", f"CREATE DATABASE {PG_DB}")
            asyncio.run(_pg_admin(admin_dsn, *statements))
            created = True
            target = f"postgresql://{args.pg_server}/{PG_DB}"
            url = f"postgresql+asyncpg://{args.pg_server}/{PG_DB}"
        sink_port = free_port()
        processes.start(
            [sys.executable, str(SCRIPT), "_sink", str(sink_port), webhook_secret],
            _clean_env({}),
            workdir / "sink.log",
        )
        env = _clean_env(
            {
                "TESSERA_DATA_DIR": str(workdir),
                "TESSERA_DATABASE_URL": url,
                "TESSERA_CODE_SECRET": secrets.token_urlsafe(36),
                "TESSERA_LOG_LEVEL": "WARNING",
                "TESSERA_SMS_INBOUND_SECRET": inbound_secret,
                "TESSERA_MESSAGE_WEBHOOK_URL": f"http://{HOST}:{sink_port}/hook",
                "TESSERA_MESSAGE_WEBHOOK_SECRET": webhook_secret,
                "TESSERA_WORKER_EMBEDDED": "false",
            }
        )
        run_cli(["migrate"], env)
        bare_env = _clean_env(
            {"BENCH_BARE_DB": kind, "BENCH_BARE_TARGET": target, "TESSERA_SMS_INBOUND_SECRET": inbound_secret}
        )
        bare = start_server(
            processes, "bare", "bench_messages:bare_app", bare_env, workdir, "--app-dir", str(SCRIPT.parent)
        )
        real = start_server(processes, "real", "tessera.app:app_from_env", env, workdir)
        count, concurrency = args.messages, args.concurrency
        # Untimed first requests on both servers (connections, caches, the first pages of the
        # tables); their replies are delivered in (b) too, so (b) times ``queued`` deliveries.
        warm = max(1, count // 10)
        queued = count + warm
        emit(f"[{kind}] (a) {count:,} inbound SMS at concurrency {concurrency}, after {warm:,} untimed …")
        for name, server in (("bare", bare), ("real", real)):
            asyncio.run(
                drive(
                    server.port,
                    inbound_requests(inbound_secret, f"warm-{name}", warm, server.port),
                    concurrency,
                )
            )
        bare_in = asyncio.run(
            drive(bare.port, inbound_requests(inbound_secret, "bare", count, bare.port), concurrency)
        )
        real_in = asyncio.run(
            drive(real.port, inbound_requests(inbound_secret, "real", count, real.port), concurrency)
        )
        processes.stop(real.process)
        processes.stop(bare.process)
        emit(f"[{kind}]     bare {bare_in['per_second']:,} /s, Tessera {real_in['per_second']:,} /s")

        emit(f"[{kind}] (b) {queued:,} deliveries to the sink …")
        hook = f"http://{HOST}:{sink_port}/hook"
        httpx.post(f"http://{HOST}:{sink_port}/reset", timeout=5)
        asyncio.run(bare_posts(hook, webhook_secret, queued, WORKER_CONCURRENCY))
        bare_counted = wait_for(sink_port, queued, 60)
        httpx.post(f"http://{HOST}:{sink_port}/reset", timeout=5)
        worker = processes.start([sys.executable, "-m", "tessera.cli", "worker"], env, workdir / "worker.log")
        real_counted = wait_for(sink_port, queued, args.timeout)
        recorded = recorded_as_sent(kind, target, queued)
        processes.stop(worker)
        if recorded != queued:
            raise RuntimeError(f"{recorded} message_sent events for {queued} deliveries")
        if real_counted["refused"] or bare_counted["refused"]:
            raise RuntimeError(f"the sink refused signatures: {real_counted}, {bare_counted}")
        bare_out, real_out = delivery_rate(bare_counted, queued), delivery_rate(real_counted, queued)
        emit(f"[{kind}]     bare {bare_out:,} /s, Tessera {real_out:,} /s")
        return {
            "store": kind,
            "messages": count,
            "concurrency": concurrency,
            "inbound": {
                "tessera": real_in,
                "bare": bare_in,
                "ratio": round(real_in["per_second"] / bare_in["per_second"], 3),
                "target_ratio": TARGET,
            },
            "outbound": {
                "deliveries": queued,
                "tessera_per_second": real_out,
                "bare_per_second": bare_out,
                "ratio": round(real_out / bare_out, 3),
                "concurrency": WORKER_CONCURRENCY,
                "target_ratio": TARGET,
            },
        }
    finally:
        processes.stop_all()
        if created:
            asyncio.run(_pg_admin(admin_dsn, f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32, help="connections of the inbound load")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the deliveries")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document")
    parser.add_argument("--tmp-dir", default=None, help="where the SQLite files and logs go")
    parser.add_argument("--pg-server", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--pg-admin-db", default="test", help="database to connect to for CREATE DATABASE")
    return parser.parse_args(argv)


def verdict(ratio: float) -> str:
    return "met" if ratio >= TARGET else "MISSED"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_sink"]:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(sink(int(argv[1]), argv[2]))
        return 0
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    emit = (lambda _message: None) if args.json else (lambda message: print(message, flush=True))
    results = []
    try:
        for kind in kinds:
            results.append(bench_store(kind, args, emit))
    except (KeyboardInterrupt, Interrupted):
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print()
    print("| store | path | Tessera | bare | ratio (target >= 0.5) | Tessera p50 / p99 | bare p50 / p99 |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        inbound, outbound = r["inbound"], r["outbound"]
        real, bare = inbound["tessera"], inbound["bare"]
        print(
            f"| {r['store']} | {r['messages']:,} inbound SMS, {r['concurrency']} connections | "
            f"{real['per_second']:,} /s | {bare['per_second']:,} /s | {inbound['ratio']} "
            f"({verdict(inbound['ratio'])}) | {real['p50_ms']} / {real['p99_ms']} ms | "
            f"{bare['p50_ms']} / {bare['p99_ms']} ms |"
        )
        print(
            f"| {r['store']} | {outbound['deliveries']:,} outbound deliveries, "
            f"{outbound['concurrency']} at once | "
            f"{outbound['tessera_per_second']:,} /s | {outbound['bare_per_second']:,} /s | "
            f"{outbound['ratio']} ({verdict(outbound['ratio'])}) | n/a | n/a |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
