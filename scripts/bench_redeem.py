"""Redemption throughput and latency: the real server against a bare baseline on the same data.

What is measured
    ``POST /api/redemptions`` on the real Tessera server (``uvicorn --factory
    tessera.app:app_from_env``, one process, the flags ``tessera serve`` uses) over a database
    holding 1,000,000 live unassigned codes, against a *baseline* app served by the same
    uvicorn command line: a one-route Litestar app whose handler computes the same code digest
    (``CodeKeys(secret).digest``) and runs only the one conditional
    ``UPDATE coupons … RETURNING id`` — with stdlib ``sqlite3`` (autocommit, the product's
    pragmas, called right in the handler) on SQLite, or through an asyncpg pool on PostgreSQL.

    Seeding goes through the real API: a store, a staff account (logged in for a token), a
    campaign with random codes, then one bulk batch of ``--codes`` codes (POST, poll the
    progress URL, export the CSV). The seeded database is then copied (SQLite: checkpointed
    file copy; PostgreSQL: ``CREATE DATABASE … TEMPLATE``) so the product and the baseline each
    redeem on an identical copy, with the same codes in the same order.

    The load generator is a separate process (so it can use the other core): N keep-alive
    HTTP/1.1 connections on a minimal asyncio (uvloop) client over raw streams, every request
    pre-encoded, each carrying a distinct fresh code and a distinct ``Idempotency-Key`` (the
    baseline ignores the headers; both targets get byte-identical requests). Per concurrency
    level there is a warm-up, then a measured run of a fixed number of requests; codes are never
    reused across levels. Levels alternate baseline → product so drift hits both alike.

    Printed per level and target: requests/s, p50/p99/max latency, non-201 answers, the CPU
    the server process used (and on PostgreSQL all ``postgres`` processes together) and the
    load generator's own CPU (near 100 % would mean the client, not the server, is the limit),
    then the product/baseline ratios and whether the acceptance target holds:

    * SQLite: product >= 50 % of the baseline's redemptions/s and p99 <= 50 ms at 64 clients;
    * PostgreSQL: product >= 50 % of the bare asyncpg baseline's redemptions/s at 16 clients.

    A missed target is printed, never turned into a failing exit status.

How to run (from the repository root)
    .venv/bin/python scripts/bench_redeem.py                     # SQLite, full size
    .venv/bin/python scripts/bench_redeem.py --database postgres # needs PostgreSQL (see --pg-*)
    .venv/bin/python scripts/bench_redeem.py --database both --json
    .venv/bin/python scripts/bench_redeem.py --codes 20000 --requests 2000   # quick smoke run

    Diagnostics: ``--timeline`` prints completed requests and worst latency per second (stalls
    show up there), ``--product-app module:factory`` serves a variant of the app to try a change
    without editing the backend (seeding still uses the real app; put the module on
    PYTHONPATH), ``--tmp-dir /dev/shm`` keeps the SQLite files off the disk, ``--keep-temp``
    keeps the server logs.

    PostgreSQL runs create and drop the databases ``tessera_bench_real`` and
    ``tessera_bench_base``. Every process, temporary directory and database is removed at the
    end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
from litestar import Litestar, Response, get, post

from tessera.codes.keys import CodeKeys
from tessera.core.db.engine import SQLITE_PRAGMAS

SCRIPT = Path(__file__).resolve()
HOST = "127.0.0.1"
REAL_DB = "tessera_bench_real"
BASE_DB = "tessera_bench_base"
DEFAULT_LEVELS = "1,16,64"
DEFAULT_REQUESTS = "3000,20000,40000"
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # tessera.core.db.base.SQLITE_TIME_FORMAT
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------
# The baseline app, loaded by uvicorn as ``bench_redeem:baseline_app`` (``--factory``).
# --------------------------------------------------------------------------------------------

_SQLITE_UPDATE = (
    "UPDATE coupons SET redeemed_at = ?, redemption_seq = redemption_seq + 1 "
    "WHERE code_digest = ? AND redeemed_at IS NULL AND revoked_at IS NULL "
    "AND starts_at <= ? AND expires_at > ? RETURNING id"
)
_PG_UPDATE = (
    "UPDATE coupons SET redeemed_at = $1, redemption_seq = redemption_seq + 1 "
    "WHERE code_digest = $2 AND redeemed_at IS NULL AND revoked_at IS NULL "
    "AND starts_at <= $1 AND expires_at > $1 RETURNING id"
)


class BaselineInput(msgspec.Struct):
    code: str


@dataclass
class _BaselineState:
    digest: Any = None
    sqlite: sqlite3.Connection | None = None
    pool: Any = None


_BASELINE = _BaselineState()


def _created(coupon_id: int | None) -> Response[bytes]:
    if coupon_id is None:
        return Response(b'{"code":"not_redeemable"}', status_code=409, media_type="application/json")
    return Response(msgspec.json.encode({"id": coupon_id}), status_code=201, media_type="application/json")


@post("/api/redemptions", status_code=201)
async def _baseline_sqlite_redeem(data: BaselineInput) -> Response[bytes]:
    assert _BASELINE.sqlite is not None
    now = datetime.now(UTC).strftime(SQLITE_TIME_FORMAT)
    row = _BASELINE.sqlite.execute(_SQLITE_UPDATE, (now, _BASELINE.digest(data.code), now, now)).fetchone()
    return _created(None if row is None else row[0])


@post("/api/redemptions", status_code=201)
async def _baseline_postgres_redeem(data: BaselineInput) -> Response[bytes]:
    coupon_id = await _BASELINE.pool.fetchval(_PG_UPDATE, datetime.now(UTC), _BASELINE.digest(data.code))
    return _created(coupon_id)


@get("/health", cache=False)
async def _baseline_health() -> str:
    return "ok"


def baseline_app() -> Litestar:
    """Factory for uvicorn; configured by ``BENCH_BASELINE_*`` and ``TESSERA_CODE_SECRET``."""
    kind = os.environ["BENCH_BASELINE_DB"]
    target = os.environ["BENCH_BASELINE_TARGET"]
    pool_size = int(os.environ.get("BENCH_BASELINE_POOL_SIZE", "10"))

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        _BASELINE.digest = CodeKeys(os.environ["TESSERA_CODE_SECRET"]).digest
        if kind == "sqlite":
            connection = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            for pragma in SQLITE_PRAGMAS:
                connection.execute(pragma)
            _BASELINE.sqlite = connection
        else:
            _BASELINE.pool = await asyncpg.create_pool(target, min_size=1, max_size=pool_size)
        try:
            yield
        finally:
            if _BASELINE.sqlite is not None:
                _BASELINE.sqlite.close()
            if _BASELINE.pool is not None:
                await _BASELINE.pool.close()

    handler = _baseline_sqlite_redeem if kind == "sqlite" else _baseline_postgres_redeem
    return Litestar(route_handlers=[handler, _baseline_health], lifespan=[lifespan], debug=False)


# --------------------------------------------------------------------------------------------
# The load generator (a child process: ``bench_redeem.py _load SPEC.json``).
# --------------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its threads, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _process_tree(pid: int) -> list[int]:
    """``pid`` and every process descended from it (uvicorn's workers under ``--workers N``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def _postgres_cpu(database: str | None = None) -> dict[int, float]:
    """CPU seconds of every ``postgres`` process on this machine (backends, writers, …), or
    with ``database`` only of the backends connected to it (their process title names it), so
    other work on the machine's server does not count."""
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                raw = stat.read()
            if database is not None:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if f" {database} ".encode() not in cmdline.read():
                        continue
        except OSError:
            continue
        if b"(postgres)" in raw[:64]:
            fields = raw.rsplit(b")", 1)[1].split()
            found[int(entry)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; returns (status, whether the server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        length = int(lower[at + 17 : end])
        if length:
            await reader.readexactly(length)
    elif b"\r\ntransfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, b"\r\nconnection: close" in lower


class _Connections:
    def __init__(self, host: str, port: int, count: int) -> None:
        self.host = host
        self.port = port
        self.count = count
        self.streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def open(self) -> None:
        self.streams = [await self._connect() for _ in range(self.count)]

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def reconnect(self, slot: int) -> None:
        with contextlib.suppress(Exception):
            self.streams[slot][1].close()
        self.streams[slot] = await self._connect()

    def close(self) -> None:
        for _, writer in self.streams:
            writer.close()


async def _drive(
    connections: _Connections, requests: list[bytes]
) -> tuple[list[int], list[int], Counter[int]]:
    """Send every request once over the open connections; per request its latency and its
    completion time (``perf_counter_ns``), and the count of each status."""
    latencies = [0] * len(requests)
    finished = [0] * len(requests)
    statuses: Counter[int] = Counter()
    indices = iter(range(len(requests)))  # shared: each request goes out exactly once

    async def worker(slot: int) -> None:
        for i in indices:
            reader, writer = connections.streams[slot]
            start = time.perf_counter_ns()
            writer.write(requests[i])
            try:
                status, closing = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                status, closing = 0, True  # 0: the connection broke without an answer
            finished[i] = time.perf_counter_ns()
            latencies[i] = finished[i] - start
            statuses[status] += 1
            if closing:
                await connections.reconnect(slot)

    await asyncio.gather(*(worker(slot) for slot in range(connections.count)))
    return latencies, finished, statuses


def _timeline(started_ns: int, latencies: list[int], finished: list[int]) -> list[list[float]]:
    """Per second of the measured run: [completed requests, worst latency in ms]."""
    bins: dict[int, list[float]] = {}
    for latency, done in zip(latencies, finished, strict=True):
        slot = bins.setdefault((done - started_ns) // 1_000_000_000, [0, 0.0])
        slot[0] += 1
        slot[1] = max(slot[1], round(latency / 1e6, 1))
    return [bins.get(second, [0, 0.0]) for second in range(max(bins) + 1)]


def _percentile(ordered: list[int], fraction: float) -> float:
    """Nearest-rank percentile of sorted nanoseconds, in milliseconds."""
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1] / 1e6


def _encode_requests(spec: dict[str, Any], codes: list[str], first_key: int) -> list[bytes]:
    head = (
        f"POST /api/redemptions HTTP/1.1\r\nHost: {spec['host']}:{spec['port']}\r\n"
        f"Authorization: Bearer {spec['token']}\r\nContent-Type: application/json\r\n"
    ).encode()
    encoded = []
    for offset, code in enumerate(codes):
        body = msgspec.json.encode({"code": code})
        key = f"{spec['key_prefix']}-{first_key + offset}"
        encoded.append(
            head + f"Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        )
    return encoded


async def _load(spec: dict[str, Any], warmup: list[bytes], measured: list[bytes]) -> dict[str, Any]:
    connections = _Connections(spec["host"], spec["port"], spec["concurrency"])
    await connections.open()
    try:
        _, _, warm_statuses = await _drive(connections, warmup)
        server_pids = _process_tree(spec["server_pid"])
        others = spec.get("other_pids", {})  # e.g. {"worker": pid}: reported apart
        server_cpu = {pid: _cpu_seconds(pid) for pid in server_pids}
        other_cpu = {name: _cpu_seconds(pid) for name, pid in others.items()}
        pg_cpu = _postgres_cpu() if spec["postgres"] else {}
        backends_cpu = _postgres_cpu(spec["database"]) if spec["database"] else {}
        own = resource.getrusage(resource.RUSAGE_SELF)
        started_ns = time.perf_counter_ns()
        latencies, finished, statuses = await _drive(connections, measured)
        elapsed = (time.perf_counter_ns() - started_ns) / 1e9
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        server_cpu = {pid: _cpu_seconds(pid) - used for pid, used in server_cpu.items()}
        other_cpu = {name: _cpu_seconds(others[name]) - used for name, used in other_cpu.items()}
        pg_after = _postgres_cpu() if spec["postgres"] else {}
        backends_after = _postgres_cpu(spec["database"]) if spec["database"] else {}
    finally:
        connections.close()
    ordered = sorted(latencies)
    count = len(ordered)
    client_cpu = (own_after.ru_utime + own_after.ru_stime) - (own.ru_utime + own.ru_stime)
    result: dict[str, Any] = {
        "requests": count,
        "seconds": round(elapsed, 3),
        "rps": round(count / elapsed, 1),
        "p50_ms": round(_percentile(ordered, 0.50), 2),
        "p99_ms": round(_percentile(ordered, 0.99), 2),
        "max_ms": round(ordered[-1] / 1e6, 2),
        "non_201": sum(n for status, n in statuses.items() if status != 201),
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "warmup_non_201": sum(n for status, n in warm_statuses.items() if status != 201),
        "server_cpu_pct": round(100 * sum(server_cpu.values()) / elapsed, 1),
        # CPU per request: unlike rates, these hold while other work shares the machine.
        "server_cpu_ms_per_request": round(1000 * sum(server_cpu.values()) / count, 3),
        "client_cpu_pct": round(100 * client_cpu / elapsed, 1),
    }
    if len(server_cpu) > 1:  # how the load spread over the server's processes
        busy = sorted((used for used in server_cpu.values() if used >= 0.01 * elapsed), reverse=True)
        result["server_processes_cpu_pct"] = [round(100 * used / elapsed, 1) for used in busy]
    for name, used in other_cpu.items():
        result[f"{name}_cpu_pct"] = round(100 * used / elapsed, 1)
    if spec["timeline"]:
        result["timeline"] = _timeline(started_ns, latencies, finished)
    if spec["postgres"]:
        used = sum(cpu - pg_cpu.get(pid, 0.0) for pid, cpu in pg_after.items())
        result["postgres_cpu_pct"] = round(100 * used / elapsed, 1)
        own_backends = sum(cpu - backends_cpu.get(pid, 0.0) for pid, cpu in backends_after.items())
        result["backends_cpu_ms_per_request"] = (
            round(1000 * own_backends / count, 3) if spec["database"] else None
        )
    return result


def load_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    codes = Path(spec["codes_file"]).read_text().split()
    warm_start, measured_start, end = spec["warmup_start"], spec["measured_start"], spec["end"]
    warmup = _encode_requests(spec, codes[warm_start:measured_start], warm_start)
    measured = _encode_requests(spec, codes[measured_start:end], measured_start)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(_load(spec, warmup, measured))
    else:
        result = uvloop.run(_load(spec, warmup, measured))
    print(json.dumps(result))
    return 0


# --------------------------------------------------------------------------------------------
# Orchestration: processes, databases, seeding.
# --------------------------------------------------------------------------------------------


class Interrupted(Exception):
    """SIGTERM, turned into an exception so every cleanup step still runs."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Interrupted


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "BENCH_"))}
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


class Processes:
    """Every child this run started, stopped in reverse order on exit."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._running.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process in self._running:
            self._running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self._running)):
            self.stop(process)


def uvicorn_command(app: str, port: int, *extra: str, workers: int = 1) -> list[str]:
    """The command line ``tessera serve [--workers N]`` amounts to (see tessera.cli._serve), for
    any app. With several workers each reports its start-up (info level; the access log stays
    off), so ``start_server`` can wait for all of them."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        app,
        *extra,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "info" if workers > 1 else "warning",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "10",
    ]


def start_server(
    processes: Processes,
    name: str,
    app: str,
    env: dict[str, str],
    workdir: Path,
    *extra: str,
    workers: int = 1,
) -> Server:
    """A uvicorn server, returned once healthy and (``workers`` > 1) once every worker has
    started: keep-alive connections opened earlier would all land on the first ones."""
    port = _free_port()
    log = workdir / f"{name}.log"
    process = processes.start(uvicorn_command(app, port, *extra, workers=workers), env, log)
    deadline = time.monotonic() + 60 + 15 * workers
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} server exited; log:\n{log.read_text()[-3000:]}")
        started = workers == 1 or log.read_text().count("Application startup complete.") >= workers
        with contextlib.suppress(httpx.HTTPError):
            if started and httpx.get(f"http://{HOST}:{port}/health", timeout=2).status_code == 200:
                return Server(name, process, port, log)
        time.sleep(0.2)
    raise RuntimeError(f"{name} server did not become healthy; log:\n{log.read_text()[-3000:]}")


def run_cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tessera.cli", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tessera {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


async def _pg_admin(admin_dsn: str, *statements: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _pg_fetchval(dsn: str, query: str) -> Any:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


@dataclass
class Target:
    """Where a database lives, from the product's and the baseline's point of view."""

    kind: str  # sqlite | postgres
    real_url: str  # TESSERA_DATABASE_URL of the product
    base_target: str  # BENCH_BASELINE_TARGET: a file path or an asyncpg DSN
    real_check: str  # a path or DSN to count redeemed coupons afterwards
    base_check: str


@dataclass
class Seeded:
    token: str
    codes: list[str]
    generate_s: float
    export_s: float


def seed(server: Server, count: int, wanted: int, rng: random.Random, marketer_key: str) -> Seeded:
    """Store, staff, campaign and ``count`` codes through the real API; ``wanted`` codes back."""
    now = datetime.now(UTC)
    marketer = {"Authorization": f"Bearer {marketer_key}"}
    with httpx.Client(base_url=f"http://{HOST}:{server.port}", timeout=120) as client:

        def call(method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> Any:
            response = client.request(method, path, json=body, headers=headers)
            if response.status_code >= 300:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
            return response.json()

        store = call("POST", "/api/stores", {"name": "Bench store", "timezone": "UTC"}, marketer)
        password = secrets.token_urlsafe(16)
        call(
            "POST",
            "/api/staff",
            {"username": "bench.staff", "password": password, "store_id": store["id"]},
            marketer,
        )
        login = call("POST", "/api/auth/staff/login", {"username": "bench.staff", "password": password}, {})
        campaign = call(
            "POST",
            "/api/campaigns",
            {
                "name": "Bench",
                "discount": {"kind": "percent", "value": 10},
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(days=30)).isoformat(),
                "code": {"format": "random"},
                "limits": {"per_customer": None},
            },
            marketer,
        )
        call("POST", f"/api/campaigns/{campaign['id']}/publish", None, marketer)
        started = time.perf_counter()
        batch = call(
            "POST", f"/api/campaigns/{campaign['id']}/codes", {"count": count, "channel": "print"}, marketer
        )
        while batch["status"] != "done":
            time.sleep(0.5)
            batch = call("GET", batch["progress_url"], None, marketer)
        generate_s = time.perf_counter() - started
        started = time.perf_counter()
        codes: list[str] = []
        with client.stream("GET", batch["export_url"], headers=marketer) as response:
            if response.status_code != 200:
                raise RuntimeError(f"export: {response.status_code}")
            rows = csv.reader(response.iter_lines())
            header = next(rows)
            column = header.index("code")
            codes = [row[column] for row in rows if row]
        export_s = time.perf_counter() - started
    if len(codes) != count:
        raise RuntimeError(f"export returned {len(codes)} codes, expected {count}")
    return Seeded(login["token"], rng.sample(codes, wanted), generate_s, export_s)


def count_redeemed(kind: str, where: str) -> int:
    query = "SELECT count(*) FROM coupons WHERE redeemed_at IS NOT NULL"
    if kind == "sqlite":
        with contextlib.closing(sqlite3.connect(where)) as connection:
            return int(connection.execute(query).fetchone()[0])
    return int(asyncio.run(_pg_fetchval(where, query)))


# --------------------------------------------------------------------------------------------
# One benchmark run per database kind.
# --------------------------------------------------------------------------------------------


@dataclass
class Level:
    concurrency: int
    requests: int
    warmup: int


@dataclass
class Report:
    database: str
    codes: int
    seed_generate_s: float = 0.0
    seed_export_s: float = 0.0
    levels: list[dict[str, Any]] = field(default_factory=list)
    redeemed_in_db: dict[str, int] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)


def run_load(
    processes: Processes,
    workdir: Path,
    server: Server,
    token: str,
    start: int,
    level: Level,
    postgres: bool,
    timeline: bool,
    other_pids: dict[str, int] | None = None,
    database: str | None = None,
) -> dict[str, Any]:
    """One load run; on PostgreSQL, ``database`` names the one whose backends count as the
    target's own database CPU."""
    spec = {
        "host": HOST,
        "port": server.port,
        "token": token,
        "codes_file": str(workdir / "codes.txt"),
        "key_prefix": "bench",
        "warmup_start": start,
        "measured_start": start + level.warmup,
        "end": start + level.warmup + level.requests,
        "concurrency": level.concurrency,
        "server_pid": server.pid,
        "other_pids": other_pids or {},
        "postgres": postgres,
        "database": database,
        "timeline": timeline,
    }
    spec_path = workdir / f"load-{server.name}-{level.concurrency}.json"
    spec_path.write_text(json.dumps(spec))
    out_path = workdir / f"load-{server.name}-{level.concurrency}.out"
    process = processes.start(
        [sys.executable, str(SCRIPT), "_load", str(spec_path)], os.environ.copy(), out_path
    )
    process.wait()
    processes.stop(process)
    output = out_path.read_text()
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{output[-3000:]}")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def bench_database(kind: str, args: argparse.Namespace, levels: list[Level], emit: Any) -> Report:
    report = Report(database=kind, codes=args.codes)
    secret = secrets.token_urlsafe(36)
    processes = Processes()
    workdir = Path(tempfile.mkdtemp(prefix=f"tessera-bench-{kind}-", dir=args.tmp_dir))
    pg_server = f"postgresql://{args.pg_server}"
    admin_dsn = f"{pg_server}/{args.pg_admin_db}"
    created_databases: list[str] = []
    try:
        (workdir / "real").mkdir()
        (workdir / "base").mkdir()
        if kind == "sqlite":
            real_path = workdir / "real" / "tessera.db"
            base_path = workdir / "base" / "tessera.db"
            target = Target(
                kind, f"sqlite+aiosqlite:///{real_path}", str(base_path), str(real_path), str(base_path)
            )
        else:
            asyncio.run(
                _pg_admin(
                    admin_dsn,
                    f"DROP DATABASE IF EXISTS {BASE_DB} WITH (FORCE)",
                    f"DROP DATABASE IF EXISTS {REAL_DB} WITH (FORCE)",
                    f"CREATE DATABASE {REAL_DB}",
                )
            )
            created_databases.append(REAL_DB)
            real_dsn, base_dsn = f"{pg_server}/{REAL_DB}", f"{pg_server}/{BASE_DB}"
            target = Target(
                kind, f"postgresql+asyncpg://{args.pg_server}/{REAL_DB}", base_dsn, real_dsn, base_dsn
            )
        product_env = _clean_env(
            {
                "TESSERA_DATA_DIR": str(workdir / "real"),
                "TESSERA_DATABASE_URL": target.real_url,
                "TESSERA_CODE_SECRET": secret,
                "TESSERA_LOG_LEVEL": "WARNING",
            }
        )
        wanted = sum(level.warmup + level.requests for level in levels)

        emit(f"[{kind}] migrating and seeding {args.codes:,} codes through the API in {workdir} …")
        run_cli(["migrate"], product_env)
        marketer_key = run_cli(["keys", "create", "--role", "marketer"], product_env).strip().splitlines()[-1]
        seeder = start_server(processes, "seed", "tessera.app:app_from_env", product_env, workdir)
        seeded = seed(seeder, args.codes, wanted, random.Random(args.seed), marketer_key)
        processes.stop(seeder.process)
        report.seed_generate_s = round(seeded.generate_s, 1)
        report.seed_export_s = round(seeded.export_s, 1)
        emit(
            f"[{kind}] {args.codes:,} codes generated in {seeded.generate_s:.1f} s, "
            f"exported in {seeded.export_s:.1f} s; {wanted:,} sampled for the load"
        )
        (workdir / "codes.txt").write_text("\n".join(seeded.codes) + "\n")

        if kind == "sqlite":
            with contextlib.closing(sqlite3.connect(target.real_check)) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copyfile(target.real_check, target.base_check)
        else:
            asyncio.run(_pg_admin(f"{pg_server}/{REAL_DB}", "VACUUM ANALYZE"))
            asyncio.run(_pg_admin(admin_dsn, f"CREATE DATABASE {BASE_DB} TEMPLATE {REAL_DB}"))
            created_databases.append(BASE_DB)

        baseline_env = _clean_env(
            {
                "BENCH_BASELINE_DB": kind,
                "BENCH_BASELINE_TARGET": target.base_target,
                "BENCH_BASELINE_POOL_SIZE": "10",  # the product's default pool size
                "TESSERA_CODE_SECRET": secret,
            }
        )
        baseline = start_server(
            processes,
            "baseline",
            "bench_redeem:baseline_app",
            baseline_env,
            workdir,
            "--app-dir",
            str(SCRIPT.parent),
        )
        product = start_server(processes, "product", args.product_app, product_env, workdir)
        emit(f"[{kind}] servers up: baseline pid {baseline.pid}, product pid {product.pid}")
        emit(HEADER)

        start = 0
        for level in levels:
            row: dict[str, Any] = {"concurrency": level.concurrency}
            for server in (baseline, product):
                own_database = (REAL_DB if server is product else BASE_DB) if kind == "postgres" else None
                row[server.name] = run_load(
                    processes,
                    workdir,
                    server,
                    seeded.token,
                    start,
                    level,
                    kind == "postgres",
                    args.timeline,
                    database=own_database,
                )
            start += level.warmup + level.requests
            base_rps, prod_rps = row["baseline"]["rps"], row["product"]["rps"]
            row["ratio_rps"] = round(prod_rps / base_rps, 3) if base_rps else None
            row["ratio_p99"] = (
                round(row["product"]["p99_ms"] / row["baseline"]["p99_ms"], 2)
                if row["baseline"]["p99_ms"]
                else None
            )
            report.levels.append(row)
            emit(format_level(row, kind == "postgres"))

        processes.stop(product.process)
        processes.stop(baseline.process)
        product_201 = sum(row["product"]["statuses"].get("201", 0) for row in report.levels)
        report.redeemed_in_db = {
            "product": count_redeemed(kind, target.real_check),
            "baseline": count_redeemed(kind, target.base_check),
        }
        emit(
            f"[{kind}] coupons redeemed in the databases (warm-ups included): "
            f"product {report.redeemed_in_db['product']:,}, baseline {report.redeemed_in_db['baseline']:,} "
            f"(measured 201s of the product: {product_201:,})"
        )
        report.target = evaluate(kind, report.levels)
        emit(format_target(kind, report.target))
        return report
    finally:
        processes.stop_all()
        if kind == "postgres" and created_databases:
            with contextlib.suppress(Exception):
                asyncio.run(
                    _pg_admin(
                        admin_dsn,
                        *(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)" for name in created_databases),
                    )
                )
        if args.keep_temp:
            emit(f"[{kind}] kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def evaluate(kind: str, levels: list[dict[str, Any]]) -> dict[str, Any]:
    at = 64 if kind == "sqlite" else 16
    row = next((r for r in levels if r["concurrency"] == at), None)
    if row is None:
        return {"concurrency": at, "met": None, "note": f"level {at} not run"}
    ratio = row["ratio_rps"] or 0.0
    checks = {"ratio_ok": ratio >= TARGET_RATIO}
    if kind == "sqlite":
        checks["p99_ok"] = row["product"]["p99_ms"] <= TARGET_P99_MS
    return {
        "concurrency": at,
        "ratio_rps": ratio,
        "product_p99_ms": row["product"]["p99_ms"],
        **checks,
        "met": all(checks.values()),
    }


# --------------------------------------------------------------------------------------------
# Output.
# --------------------------------------------------------------------------------------------

HEADER = (
    f"{'clients':>7}  {'target':<8}  {'requests':>8}  {'req/s':>8}  {'p50 ms':>7}  {'p99 ms':>7}  "
    f"{'max ms':>7}  {'non-201':>7}  {'server CPU':>10}  {'client CPU':>10}"
)


def format_level(row: dict[str, Any], postgres: bool) -> str:
    lines = []
    for name in ("baseline", "product"):
        r = row[name]
        line = (
            f"{row['concurrency']:>7}  {name:<8}  {r['requests']:>8}  {r['rps']:>8.0f}  {r['p50_ms']:>7.2f}  "
            f"{r['p99_ms']:>7.2f}  {r['max_ms']:>7.2f}  {r['non_201']:>7}  {r['server_cpu_pct']:>9.0f}%  "
            f"{r['client_cpu_pct']:>9.0f}%  server {r['server_cpu_ms_per_request']:.3f} ms/req"
        )
        if postgres and r.get("backends_cpu_ms_per_request") is not None:
            line += (
                f"  postgres CPU {r['postgres_cpu_pct']:.0f}%, its backends "
                f"{r['backends_cpu_ms_per_request']:.3f} ms/req"
            )
        if r["non_201"] or r["warmup_non_201"]:
            line += f"  statuses {r['statuses']} (warm-up non-201: {r['warmup_non_201']})"
        if "timeline" in r:
            seconds = ", ".join(f"{n:.0f}/{worst:.0f}" for n, worst in r["timeline"])
            line += f"\n{'':>7}  {'':<8}  per second (requests/worst ms): {seconds}"
        lines.append(line)
    lines.append(f"{'':>7}  product/baseline: req/s x{row['ratio_rps']:.2f}, p99 x{row['ratio_p99']:.2f}")
    return "\n".join(lines)


def format_target(kind: str, target: dict[str, Any]) -> str:
    if target["met"] is None:
        return f"[{kind}] target not evaluated: {target['note']}"
    parts = [
        f"req/s ratio {target['ratio_rps']:.2f} (needs >= {TARGET_RATIO:.2f}: "
        f"{'ok' if target['ratio_ok'] else 'no'})"
    ]
    if "p99_ok" in target:
        parts.append(
            f"p99 {target['product_p99_ms']:.1f} ms (needs <= {TARGET_P99_MS:.0f} ms: "
            f"{'ok' if target['p99_ok'] else 'no'})"
        )
    verdict = "target met" if target["met"] else "target missed"
    return f"[{kind}] at {target['concurrency']} clients: {'; '.join(parts)} -> {verdict}"


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--codes", type=int, default=1_000_000, help="live codes seeded (max 1,000,000)")
    parser.add_argument("--levels", default=DEFAULT_LEVELS, help="concurrent clients, comma-separated")
    parser.add_argument(
        "--requests",
        default=DEFAULT_REQUESTS,
        help="measured requests per level: one number for every level, or one per level",
    )
    parser.add_argument(
        "--warmup", type=float, default=0.1, help="warm-up requests as a fraction of the measured ones"
    )
    parser.add_argument(
        "--product-app",
        default="tessera.app:app_from_env",
        help="factory uvicorn serves as the product (to try a change; seeding always uses the real app)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for sampling codes")
    parser.add_argument("--pg-server", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--pg-admin-db", default="test", help="database to connect to for CREATE DATABASE")
    parser.add_argument(
        "--timeline", action="store_true", help="also print requests and worst latency per second of each run"
    )
    parser.add_argument(
        "--tmp-dir",
        default=None,
        help="where the SQLite copies live (default: the system temp dir; /dev/shm takes the disk out)",
    )
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary directory (logs)")
    parser.add_argument("--json", action="store_true", help="print all figures as one JSON object at the end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_load"]:
        return load_main(argv[1])
    args = parse_args(argv)
    concurrency = _ints(args.levels)
    requests = _ints(args.requests)
    if len(requests) == 1:
        requests *= len(concurrency)
    if len(requests) != len(concurrency):
        raise SystemExit("--requests needs one number, or one per level")
    levels = [Level(c, n, max(c, round(n * args.warmup))) for c, n in zip(concurrency, requests, strict=True)]
    wanted = sum(level.warmup + level.requests for level in levels)
    if not wanted <= args.codes <= 1_000_000:
        raise SystemExit(f"--codes must be between the {wanted:,} fresh codes the levels need and 1,000,000")
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored

    def emit(text: str) -> None:
        print(text, flush=True)

    emit(
        f"Tessera redemption benchmark: {args.codes:,} live codes; uvicorn, 1 process, same flags for "
        f"product and baseline; {os.cpu_count()} CPUs; levels {concurrency}, measured requests {requests}"
    )
    reports = []
    try:
        for kind in kinds:
            emit("")
            emit(f"== {kind} ==")
            reports.append(bench_database(kind, args, levels, emit))
    except (KeyboardInterrupt, Interrupted):
        emit("interrupted; cleaned up")
        return 130
    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "redeem",
                    "cpus": os.cpu_count(),
                    "databases": {
                        report.database: {
                            "codes": report.codes,
                            "seed_generate_s": report.seed_generate_s,
                            "seed_export_s": report.seed_export_s,
                            "levels": report.levels,
                            "redeemed_in_db": report.redeemed_in_db,
                            "target": report.target,
                        }
                        for report in reports
                    },
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
