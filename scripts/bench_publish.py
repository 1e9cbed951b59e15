"""Publishing to many customers through the real server, while a till redeems.

What is measured
    A fresh migrated database (SQLite file, or a PostgreSQL database ``tessera_bench_publish``)
    gets ``--customers`` registered customers with marketing consent (written with the bare
    driver: registering a million through the API would take longer than the benchmark), one
    store, one till (staff account) and a second campaign with pre-issued codes (a code batch).
    The real server starts (uvicorn, ``tessera.app:app_from_env``, embedded worker). Then:

    * *Publish*: ``POST /api/campaigns/{id}/publish`` on a campaign with no segment; timed from
      the 202 to the progress view saying ``done`` (polled every 50 ms). The 202's own latency
      (it counts the audience) is printed apart.
    * *Till*: meanwhile, 20 redemptions a second (``--till-rate``) of the pre-issued codes, each
      with an Idempotency-Key, sent on schedule whatever the previous answer's delay (no
      coordinated omission); p50/p99/max latency of those sent during the publish, and the count
      of 5xx answers.
    * *Memory*: the server's RSS before the publish, its peak (sampled at each poll) and at the
      end.

    *Bare baseline*, in the same run and database: the same number of coupons (digest: one
    HMAC-SHA256 of the serial) and ``issued`` events (one per coupon, ``INSERT … SELECT`` from the
    chunk's coupons) inserted with the bare driver (stdlib ``sqlite3`` / asyncpg), 10,000 per
    transaction, into scratch copies of the two tables with the same indexes
    (SQLite: the tables' own ``CREATE`` statements, renamed, foreign keys included; PostgreSQL:
    ``CREATE TABLE … (LIKE … INCLUDING ALL)`` plus the two foreign keys of ``coupons``). Run with
    the server up and idle, before the publish; the scratch tables are dropped before it starts.

Targets: publish rate >= 0.5x the bare rate; till p99 <= 50 ms and no 5xx, on both stores;
server memory flat. A missed target is printed, never turned into a failing exit status.

    .venv/bin/python scripts/bench_publish.py                          # SQLite + PostgreSQL, 1,000,000
    .venv/bin/python scripts/bench_publish.py --customers 100000 --store sqlite
    .venv/bin/python scripts/bench_publish.py --customers 20000 --json  # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import hmac
import io
import itertools
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tessera.assembly.migrate import upgrade
from tessera.auth.services import create_api_key
from tessera.campaigns.publishing import SQLITE_CHUNK
from tessera.core.clock import SystemClock
from tessera.core.db.base import sqlite_time
from tessera.core.db.engine import SQLITE_PRAGMAS, create_engine, session_factory
from tessera.core.settings import DatabaseSettings

HOST = "127.0.0.1"
PG_NAME = "tessera_bench_publish"
SECRET = "bench-publish-secret-0123456789abcdefghijkl"  # noqa: S105
BARE_CHUNK = 10_000
COLUMNS = [
    "campaign_id", "serial", "code_digest", "customer_id", "origin", "channel", "issued_at", "starts_at",
    "expires_at", "redemption_seq",
]  # fmt: skip
LOAD_CHUNK = 50_000
POLL_SECONDS = 0.05
TILL_CODES = 20_000
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0


# ---------------------------------------------------------------------------------------------
# Set-up: database, customers, server.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    kind: str
    url: str  # SQLAlchemy URL for the app
    target: str  # sqlite path or asyncpg DSN


async def fresh_store(kind: str, workdir: Path, pg_server: str, pg_admin_db: str) -> Store:
    if kind == "sqlite":
        path = workdir / "tessera.db"
        return Store(kind, f"sqlite+aiosqlite:///{path}", str(path))
    admin = await asyncpg.connect(f"postgresql://{pg_server}/{pg_admin_db}")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{PG_NAME}"')
    finally:
        await admin.close()
    return Store(kind, f"postgresql+asyncpg://{pg_server}/{PG_NAME}", f"postgresql://{pg_server}/{PG_NAME}")


async def drop_store(store: Store, pg_server: str, pg_admin_db: str) -> None:
    if store.kind == "postgres":
        admin = await asyncpg.connect(f"postgresql://{pg_server}/{pg_admin_db}")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        finally:
            await admin.close()


def _customer_rows(count: int, now: datetime) -> Iterator[list[tuple[Any, ...]]]:
    for first in range(0, count, LOAD_CHUNK):
        yield [(f"bench{n}@example.com", now) for n in range(first, min(count, first + LOAD_CHUNK))]


async def load_customers(store: Store, count: int) -> float:
    """``count`` consenting customers, no tags or attributes; returns seconds."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    if store.kind == "sqlite":
        connection = sqlite3.connect(store.target, isolation_level=None)
        try:
            for pragma in SQLITE_PRAGMAS:
                connection.execute(pragma)
            stamp = sqlite_time(now)
            for rows in _customer_rows(count, now):
                connection.execute("BEGIN")
                connection.executemany(
                    "INSERT INTO customers (email, tags, attributes, marketing_consent, push_consent, "
                    "created_at, last_active_at) VALUES (?, '[]', '{}', 1, 0, ?, ?)",
                    ((email, stamp, stamp) for email, _ in rows),
                )
                connection.execute("COMMIT")
            connection.execute("ANALYZE")
        finally:
            connection.close()
    else:
        pg = await asyncpg.connect(store.target)
        try:
            for rows in _customer_rows(count, now):
                await pg.copy_records_to_table(
                    "customers",
                    columns=[
                        "email",
                        "tags",
                        "attributes",
                        "marketing_consent",
                        "push_consent",
                        "created_at",
                    ],
                    records=[(email, "[]", "{}", True, False, at) for email, at in rows],
                )
            await pg.execute("ANALYZE")
        finally:
            await pg.close()
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    pid: int


@contextlib.contextmanager
def server(store: Store, workdir: Path) -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_DATABASE_URL=store.url,
        TESSERA_DATA_DIR=str(workdir),
        TESSERA_LOG_LEVEL="WARNING",
        TESSERA_CODE_SECRET=SECRET,
    )
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "tessera.app:app_from_env",
        "--host", HOST, "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    log = workdir / "server.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(url, process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def file_size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else 0
    except FileNotFoundError:
        return 0


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/statm", "rb") as statm:
        return round(int(statm.read().split()[1]) * PAGE / MIB, 1)


# ---------------------------------------------------------------------------------------------
# The bare baseline.
# ---------------------------------------------------------------------------------------------


def _digests(first: int, n: int) -> list[bytes]:
    key = SECRET.encode()
    return [hmac.digest(key, b"%d" % serial, "sha256")[:16] for serial in range(first, first + n)]


def bare_sqlite(path: str, count: int, campaign_id: int, lock_seconds: float | None = None) -> float:
    """``lock_seconds`` None: ``BARE_CHUNK`` rows per transaction. Otherwise each transaction is
    sized, as the product's chunks are, to hold the write lock about that long."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in SQLITE_PRAGMAS:
            connection.execute(pragma)
        for table in ("coupons", "events"):
            for (statement,) in connection.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type DESC",
                (table,),
            ).fetchall():
                renamed = re.sub(rf'(?<![\w"]){table}\b|"{table}"', f"scratch_{table}", statement)
                connection.execute(re.sub(r"INDEX (\w+)", r"INDEX scratch_\1", renamed))
        now = sqlite_time(datetime.now(UTC))
        size = BARE_CHUNK if lock_seconds is None else 500
        started = time.perf_counter()
        first = 0
        while first < count:
            n = min(size, count - first)
            digests = _digests(first, n)
            begun = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                f"INSERT INTO scratch_coupons ({', '.join(COLUMNS)}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, 'campaign', 'pwa', ?, ?, ?, 0)",
                (
                    (campaign_id, first + i, digest, first + i + 1, now, now, now)
                    for i, digest in enumerate(digests)
                ),
            )
            connection.execute(
                "INSERT INTO scratch_events (occurred_at, type, campaign_id, coupon_id, customer_id, "
                "channel, quantity) SELECT ?, 'issued', campaign_id, id, customer_id, channel, 1 "
                "FROM scratch_coupons WHERE campaign_id = ? AND serial >= ? AND serial < ?",
                (now, campaign_id, first, first + n),
            )
            connection.execute("COMMIT")
            held = time.perf_counter() - begun
            if lock_seconds is not None and held > 0:
                size = max(32, min(20_000, int((size + n * lock_seconds / held) / 2)))
            first += n
        seconds = time.perf_counter() - started
        connection.execute("DROP TABLE scratch_events")
        connection.execute("DROP TABLE scratch_coupons")
        return seconds
    finally:
        connection.close()


async def bare_postgres(dsn: str, count: int, campaign_id: int) -> float:
    pg = await asyncpg.connect(dsn)
    try:
        for table in ("coupons", "events"):
            await pg.execute(f"CREATE TABLE scratch_{table} (LIKE {table} INCLUDING ALL)")
        # The foreign keys of ``coupons`` too, as on SQLite: the real insert pays their checks.
        await pg.execute(
            "ALTER TABLE scratch_coupons ADD FOREIGN KEY (campaign_id) REFERENCES campaigns (id), "
            "ADD FOREIGN KEY (customer_id) REFERENCES customers (id)"
        )
        now = datetime.now(UTC)
        started = time.perf_counter()
        for first in range(0, count, BARE_CHUNK):
            n = min(BARE_CHUNK, count - first)
            async with pg.transaction():
                await pg.copy_records_to_table(
                    "scratch_coupons",
                    columns=COLUMNS,
                    records=[
                        (campaign_id, first + i, digest, first + i + 1, "campaign", "pwa", now, now, now, 0)
                        for i, digest in enumerate(_digests(first, n))
                    ],
                )
                await pg.execute(
                    "INSERT INTO scratch_events (occurred_at, type, campaign_id, coupon_id, customer_id, "
                    "channel, quantity) SELECT $1, 'issued', campaign_id, id, customer_id, channel, 1 "
                    "FROM scratch_coupons WHERE campaign_id = $2 AND serial >= $3 AND serial < $4",
                    now,
                    campaign_id,
                    first,
                    first + n,
                )
        seconds = time.perf_counter() - started
        await pg.execute("DROP TABLE scratch_events")
        await pg.execute("DROP TABLE scratch_coupons")
        return seconds
    finally:
        await pg.close()


# ---------------------------------------------------------------------------------------------
# Through the server: the till and the publish.
# ---------------------------------------------------------------------------------------------


@dataclass
class Till:
    codes: list[str]
    staff: dict[str, str]
    rate: float
    answers: list[tuple[float, float, int]] = field(default_factory=list)  # sent, ms, status
    refusals: list[str] = field(default_factory=list)  # the first few answers other than 201

    async def run(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        keys = itertools.count()
        pending: set[asyncio.Task[None]] = set()
        started = time.perf_counter()
        for number, code in enumerate(self.codes):
            due = started + number / self.rate
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due - time.perf_counter()))
            if stop.is_set():
                break
            task = asyncio.create_task(self._redeem(client, code, f"till-{next(keys)}"))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)

    async def _redeem(self, client: httpx.AsyncClient, code: str, key: str) -> None:
        sent = time.perf_counter()
        try:
            response = await client.post(
                "/api/redemptions", json={"code": code}, headers={**self.staff, "Idempotency-Key": key}
            )
            status = response.status_code
            detail = response.text[:200]
        except httpx.HTTPError as error:
            status, detail = 599, repr(error)
        if status != 201 and len(self.refusals) < 5:
            self.refusals.append(f"{status} {detail}")
        self.answers.append((sent, (time.perf_counter() - sent) * 1000, status))


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def prepare(base: str, marketer: dict[str, str]) -> tuple[list[str], dict[str, str], int]:
    """A store, a till, the till campaign's codes, and the campaign to publish."""
    with httpx.Client(base_url=base, timeout=120) as client:

        def call(method: str, path: str, body: Any = None, headers: dict[str, str] = marketer) -> Any:
            response = client.request(method, path, json=body, headers=headers)
            response.raise_for_status()
            return response.json() if "json" in response.headers.get("content-type", "") else response.text

        now = datetime.now(UTC)
        window = {
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
        }
        store = call("POST", "/api/stores", {"name": "Till", "timezone": "Europe/Rome"})
        call(
            "POST",
            "/api/staff",
            {"username": "till", "password": "bench-till-password", "store_id": store["id"]},
        )
        token = call(
            "POST", "/api/auth/staff/login", {"username": "till", "password": "bench-till-password"}, {}
        )
        till = call(
            "POST",
            "/api/campaigns",
            {
                "name": "Till",
                "discount": {"kind": "percent", "value": 5},
                "limits": {"per_customer": None},
                **window,
            },
        )
        batch = call("POST", f"/api/campaigns/{till['id']}/codes", {"count": TILL_CODES, "channel": "print"})
        while call("GET", batch["progress_url"])["status"] != "done":
            time.sleep(0.2)
        exported = call("GET", batch["export_url"])
        codes = [row["code"] for row in csv.DictReader(io.StringIO(exported))]
        offer = call(
            "POST",
            "/api/campaigns",
            {"name": "Offer", "discount": {"kind": "percent", "value": 10}, **window},
        )
        return codes, {"Authorization": f"Bearer {token['token']}"}, int(offer["id"])


async def publish_under_till(
    srv: Server, marketer: dict[str, str], campaign_id: int, till: Till, wal: Path | None
) -> dict[str, Any]:
    """``wal``: SQLite's WAL file, whose size is sampled at each poll."""
    async with (
        httpx.AsyncClient(base_url=srv.url, timeout=600) as client,
        httpx.AsyncClient(base_url=srv.url, timeout=30) as till_client,
    ):
        stop = asyncio.Event()
        rss_before = rss_mib(srv.pid)
        till_task = asyncio.create_task(till.run(till_client, stop))
        await asyncio.sleep(1.0)  # the till's latency before the publish, too
        sent = time.perf_counter()
        response = await client.post(f"/api/campaigns/{campaign_id}/publish", headers=marketer)
        accepted = time.perf_counter()
        if response.status_code != 202:
            raise RuntimeError(f"publish answered {response.status_code}: {response.text}")
        job = response.json()
        peak = rss_before
        wal_peak = 0
        polls = 0
        while job["status"] == "running":
            await asyncio.sleep(POLL_SECONDS)
            job = (await client.get(job["progress_url"], headers=marketer)).json()
            peak = max(peak, rss_mib(srv.pid))
            wal_peak = max(wal_peak, file_size(wal))
            polls += 1
        done = time.perf_counter()
        await asyncio.sleep(1.0)
        stop.set()
        await till_task
        before = sorted(ms for at, ms, _ in till.answers if at < sent)
        during = sorted(ms for at, ms, _ in till.answers if sent <= at <= done)
        statuses = [status for at, _, status in till.answers if sent <= at <= done]
        return {
            "job": job,
            "accept_ms": round((accepted - sent) * 1000, 1),
            "seconds": done - accepted,
            "till": {
                "p50_ms_before": round(_percentile(before, 0.50), 1),
                "sent_during_publish": len(during),
                "p50_ms": round(_percentile(during, 0.50), 1),
                "p99_ms": round(_percentile(during, 0.99), 1),
                "max_ms": round(during[-1], 1) if during else None,
                "status_5xx": sum(1 for status in statuses if status >= 500),
                "not_201": sum(1 for status in statuses if status != 201),
                "refusals": till.refusals,
            },
            "rss_mib": {"start": rss_before, "peak": peak, "end": rss_mib(srv.pid)},
            "wal_peak_mib": round(wal_peak / MIB, 1) if wal is not None else None,
        }


async def count_issued(store: Store, campaign_id: int) -> tuple[int, int]:
    coupons = "SELECT count(*) FROM coupons WHERE campaign_id = {}".format
    events = "SELECT count(*) FROM events WHERE type = 'issued' AND campaign_id = {}".format
    if store.kind == "sqlite":
        with contextlib.closing(sqlite3.connect(store.target)) as connection:
            return (
                int(connection.execute(coupons(campaign_id)).fetchone()[0]),
                int(connection.execute(events(campaign_id)).fetchone()[0]),
            )
    pg = await asyncpg.connect(store.target)
    try:
        return int(await pg.fetchval(coupons(campaign_id))), int(await pg.fetchval(events(campaign_id)))
    finally:
        await pg.close()


async def bench(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"tessera-bench-publish-{kind}-"))
    store = await fresh_store(kind, workdir, args.pg_server, args.pg_admin_db)
    try:
        await asyncio.to_thread(upgrade, store.url)
        engine = create_engine(DatabaseSettings(url=store.url))
        try:
            key = await create_api_key(session_factory(engine), SystemClock(), "bench", "marketer")
        finally:
            await engine.dispose()
        marketer = {"Authorization": f"Bearer {key}"}
        print(f"[{kind}] loading {args.customers:,} customers …", file=sys.stderr)
        load_seconds = await load_customers(store, args.customers)
        with server(store, workdir) as srv:
            codes, staff, campaign_id = await asyncio.to_thread(prepare, srv.url, marketer)
            print(f"[{kind}] bare baseline …", file=sys.stderr)
            short_seconds = None
            if kind == "sqlite":
                bare_seconds = await asyncio.to_thread(bare_sqlite, store.target, args.customers, campaign_id)
                lock = SQLITE_CHUNK[1]
                short_seconds = await asyncio.to_thread(
                    bare_sqlite, store.target, args.customers, campaign_id, lock
                )
            else:
                bare_seconds = await bare_postgres(store.target, args.customers, campaign_id)
            print(f"[{kind}] publishing to {args.customers:,} customers under a till …", file=sys.stderr)
            wal = Path(store.target + "-wal") if kind == "sqlite" else None
            till = Till(codes, staff, args.till_rate)
            run = await publish_under_till(srv, marketer, campaign_id, till, wal)
        coupons, events = await count_issued(store, campaign_id)
        job = run["job"]
        publish_rate = args.customers / run["seconds"]
        bare_rate = args.customers / bare_seconds
        return {
            "store": kind,
            "customers": args.customers,
            "load_seconds": round(load_seconds, 1),
            "publish": {
                "accept_ms": run["accept_ms"],
                "seconds": round(run["seconds"], 2),
                "per_s": round(publish_rate),
                "status": job["status"],
                "eligible": job["eligible"],
                "issued": job["issued"],
                "coupons": coupons,
                "issued_events": events,
            },
            "bare": {"seconds": round(bare_seconds, 2), "per_s": round(bare_rate)},
            "ratio": round(publish_rate / bare_rate, 2),
            # SQLite: the bare insert with transactions as long as the publish job's chunks.
            "bare_short": None
            if short_seconds is None
            else {
                "seconds": round(short_seconds, 2),
                "per_s": round(args.customers / short_seconds),
                "ratio": round(publish_rate * short_seconds / args.customers, 2),
            },
            "till": run["till"],
            "server_rss_mib": run["rss_mib"],
            "wal_peak_mib": run["wal_peak_mib"],
        }
    finally:
        await drop_store(store, args.pg_server, args.pg_admin_db)
        shutil.rmtree(workdir, ignore_errors=True)


def verdict(report: dict[str, Any]) -> list[str]:
    missed = []
    if report["ratio"] < TARGET_RATIO:
        missed.append(f"publish at {report['ratio']}x the bare rate (target >= {TARGET_RATIO}x)")
    if not report["till"]["p99_ms"] <= TARGET_P99_MS:
        missed.append(f"till p99 {report['till']['p99_ms']} ms (target <= {TARGET_P99_MS})")
    if report["till"]["status_5xx"]:
        missed.append(f"{report['till']['status_5xx']} answers 5xx")
    publish = report["publish"]
    if not publish["issued"] == publish["coupons"] == publish["issued_events"] == report["customers"]:
        missed.append(f"counts differ: {publish}")
    return missed


def show(report: dict[str, Any]) -> str:
    publish, bare, till, rss = report["publish"], report["bare"], report["till"], report["server_rss_mib"]
    lines = [
        f"{report['store']}: {report['customers']:,} customers",
        f"  publish   {publish['seconds']:>8} s  {publish['per_s']:>9,}/s   "
        f"(the 202 took {publish['accept_ms']} ms)",
        f"            issued {publish['issued']:,}, coupons {publish['coupons']:,}, "
        f"issued events {publish['issued_events']:,}",
        f"  bare      {bare['seconds']:>8} s  {bare['per_s']:>9,}/s",
        f"  ratio     {report['ratio']}x (target >= {TARGET_RATIO}x)",
        *(
            [
                f"  bare, {SQLITE_CHUNK[1] * 1000:g} ms per transaction (as the job's chunks): "
                f"{short['seconds']} s, {short['per_s']:,}/s; ratio {short['ratio']}x"
            ]
            if (short := report["bare_short"])
            else []
        ),
        f"  till      {till['sent_during_publish']} redemptions during the publish: p50 {till['p50_ms']} ms, "
        f"p99 {till['p99_ms']} ms, max {till['max_ms']} ms",
        f"            5xx {till['status_5xx']}, not 201 {till['not_201']}; p50 {till['p50_ms_before']} ms "
        "in the second before the publish",
        *(f"            answered {refusal}" for refusal in till["refusals"]),
        f"  server    RSS {rss['start']} MiB at start, peak {rss['peak']} MiB, {rss['end']} MiB at the end",
        *([f"  WAL       {wal} MiB at its largest"] if (wal := report["wal_peak_mib"]) is not None else []),
    ]
    missed = verdict(report)
    lines.append("  target met" if not missed else "  target missed: " + "; ".join(missed))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--till-rate", type=float, default=20.0, help="redemptions per second")
    parser.add_argument("--pg-server", default="postgres@127.0.0.1:5432")
    parser.add_argument("--pg-admin-db", default="test")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    reports = []
    for kind in kinds:
        report = asyncio.run(bench(kind, args))
        reports.append(report)
        print(show(report), flush=True)
    if args.json:
        print(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
