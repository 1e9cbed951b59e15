"""Bulk code generation: the real batch path against a bare stdlib insert of as many codes.

What is measured
    *Real path*: in a fresh, migrated database (``tessera.assembly.migrate.upgrade``) a campaign is
    created with ``CampaignService``; then, timed, a batch of ``--codes`` codes is reserved in a
    session (``BulkCodes.reserve``) and written by ``BulkCodes.generate(batch_id)`` through the
    chunk writer the app wires up: ``SqliteChunkWriter(SqliteWorker(path))`` on SQLite,
    ``PostgresChunkWriter(pool)`` on PostgreSQL (see ``tessera.app`` and ``tessera.assembly.raw_store``).
    That is everything the API's background task does for ``POST /api/campaigns/{id}/codes``:
    deriving each code from its serial, its lookup digest, the inserts, the batch progress.

    *Bare baseline*: another fresh database with the same migrated schema (same table, same
    indexes, same campaign row), where the same number of rows is inserted with the fastest
    obvious code: per chunk, ``secrets.token_bytes`` + ``bytes.translate`` give random 16-char
    codes, one HMAC-SHA256 each gives the digest, and stdlib ``sqlite3`` ``executemany`` inserts
    the chunk in one transaction (PostgreSQL: asyncpg ``copy_records_to_table`` per chunk).

    Each path runs in its own subprocess, so the peak memory figures are its own: RSS before the
    timed part, the highest RSS sampled during it (every 10 ms from /proc/self/statm) and the
    growth between them. To show that memory is flat, i.e. does not grow with the count, the
    real path also runs at a tenth of the count (``--probe``) and the two growths are compared.

    Target: real time within 2x of the bare time (ratio <= 2.0), with flat memory. The result is
    printed ("target met" / "target missed"); a miss never makes the exit status non-zero.

How to run (from the repository root)
    .venv/bin/python scripts/bench_codes.py                      # SQLite, 1,000,000 codes
    .venv/bin/python scripts/bench_codes.py --database both --json
    .venv/bin/python scripts/bench_codes.py --codes 20000        # quick smoke run

    PostgreSQL runs create and drop databases named ``tessera_bench_codes_*``; SQLite runs use a
    temporary directory. Both are removed at the end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import os
import resource
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

SCRIPT = Path(__file__).resolve()
ORIGIN_CHANNEL = "print"
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024
TARGET_RATIO = 2.0
FLAT_SLACK_MIB = 16.0


# --------------------------------------------------------------------------------------------
# Memory: a sampler thread for the peak RSS of the timed part only.
# --------------------------------------------------------------------------------------------


def current_rss() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakRss:
    """Highest RSS seen while the ``with`` block runs, sampled every ``interval`` seconds."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.before = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, current_rss())

    def __enter__(self) -> PeakRss:
        self.before = self.peak = current_rss()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss())


# --------------------------------------------------------------------------------------------
# Child side: one path, one database, figures as JSON on the last line of stdout.
# --------------------------------------------------------------------------------------------


async def _create_campaign(url: str, secret: str) -> int:
    """Migrate ``url`` and create a running random-code campaign; returns its id."""
    from tessera.assembly.migrate import upgrade
    from tessera.campaigns.schemas import CampaignCreate, CodeSpec, Discount, Limits
    from tessera.campaigns.services import CampaignService
    from tessera.codes.keys import CodeKeys
    from tessera.core.db.engine import create_engine, session_factory
    from tessera.core.settings import CodeSettings, DatabaseSettings, Settings

    await asyncio.to_thread(upgrade, url)
    engine = create_engine(DatabaseSettings(url=url))
    try:
        now = datetime.now(UTC)
        async with session_factory(engine).begin() as session:
            campaign = await CampaignService(CodeKeys(secret), CodeSettings(), Settings().currency).create(
                session,
                CampaignCreate(
                    name="Bench",
                    discount=Discount("percent", 10),
                    starts_at=now - timedelta(hours=1),
                    ends_at=now + timedelta(days=30),
                    code=CodeSpec("random"),
                    limits=Limits(per_customer=None),
                ),
                now,
            )
            return campaign.id
    finally:
        await engine.dispose()


async def run_real(kind: str, where: str, count: int, secret: str) -> dict[str, Any]:
    """``where``: a SQLite file path or a PostgreSQL DSN (``postgresql://…/db``)."""
    from tessera.campaigns.services import CampaignService
    from tessera.codes.bulk import BulkCodes
    from tessera.codes.bulk_writers import ChunkWriter, PostgresChunkWriter, SqliteChunkWriter
    from tessera.codes.keys import CodeKeys
    from tessera.core.clock import SystemClock
    from tessera.core.db.engine import create_engine, session_factory
    from tessera.core.db.sqlite_worker import SqliteWorker
    from tessera.core.settings import CodeSettings, DatabaseSettings, Settings
    from tessera.redemptions.ledger_postgres import create_pool

    url = (
        f"sqlite+aiosqlite:///{where}"
        if kind == "sqlite"
        else "postgresql+asyncpg://" + where.split("://")[1]
    )
    campaign_id = await _create_campaign(url, secret)
    settings = DatabaseSettings(url=url)
    engine = create_engine(settings)
    sessions = session_factory(engine)
    keys = CodeKeys(secret)
    campaigns = CampaignService(keys, CodeSettings(), Settings().currency)
    close: Callable[[], Any]
    writer: ChunkWriter
    if kind == "sqlite":
        worker = SqliteWorker(settings.sqlite_path)
        writer, close = SqliteChunkWriter(worker), worker.close
    else:
        pool = await create_pool(settings.asyncpg_dsn, settings.pool_size)
        writer, close = PostgresChunkWriter(pool), pool.close
    bulk = BulkCodes(sessions, keys, writer, SystemClock())
    try:
        with PeakRss() as memory:
            started = time.perf_counter()
            async with sessions.begin() as session:
                campaign = await campaigns.get(session, campaign_id, lock=True)
                batch = await bulk.reserve(session, campaign, count, ORIGIN_CHANNEL, datetime.now(UTC))
                batch_id = batch.id
            await bulk.generate(batch_id)
            seconds = time.perf_counter() - started
    finally:
        closed = close()
        if asyncio.iscoroutine(closed):
            await closed
        await engine.dispose()
    return {"seconds": seconds, **_memory(memory)}


def _bare_rows(
    campaign_id: int, count: int, chunk: int, times: tuple[Any, Any, Any], secret: str
) -> Iterator[list[tuple[Any, ...]]]:
    """Chunks of rows for random 16-character codes, generated the fastest obvious way."""
    from tessera.codes.formats import ALPHABET

    lookup_key = hmac.digest(secret.encode(), b"tessera/code-lookup/v1", "sha256")
    to_char = bytes(ord(ALPHABET[b % len(ALPHABET)]) for b in range(256))
    digest = hmac.digest
    origin = "batch:1"
    issued, starts, expires = times
    for first in range(0, count, chunk):
        n = min(chunk, count - first)
        raw = secrets.token_bytes(16 * n).translate(to_char)
        yield [
            (
                campaign_id,
                first + i,
                digest(lookup_key, raw[16 * i : 16 * i + 16], "sha256")[:16],
                None,
                origin,
                ORIGIN_CHANNEL,
                issued,
                starts,
                expires,
                0,
            )
            for i in range(n)
        ]


# The bare insert writes the same columns as the real chunk writer.
from tessera.codes.bulk_writers import COLUMNS  # noqa: E402


async def run_bare(kind: str, where: str, count: int, chunk: int, secret: str) -> dict[str, Any]:
    from tessera.core.db.engine import SQLITE_PRAGMAS

    url = (
        f"sqlite+aiosqlite:///{where}"
        if kind == "sqlite"
        else "postgresql+asyncpg://" + where.split("://")[1]
    )
    campaign_id = await _create_campaign(url, secret)
    now = datetime.now(UTC)
    window = (now, now - timedelta(hours=1), now + timedelta(days=30))
    if kind == "sqlite":
        connection = sqlite3.connect(where, isolation_level=None)
        for pragma in SQLITE_PRAGMAS:
            connection.execute(pragma)
        issued, starts, expires = (t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in window)
        text_times = (issued, starts, expires)
        insert = f"INSERT INTO coupons ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
        try:
            with PeakRss() as memory:
                started = time.perf_counter()
                for rows in _bare_rows(campaign_id, count, chunk, text_times, secret):
                    connection.execute("BEGIN")
                    connection.executemany(insert, rows)
                    connection.execute("COMMIT")
                seconds = time.perf_counter() - started
        finally:
            connection.close()
    else:
        pg = await asyncpg.connect(where)
        try:
            with PeakRss() as memory:
                started = time.perf_counter()
                for rows in _bare_rows(campaign_id, count, chunk, window, secret):
                    async with pg.transaction():
                        await pg.copy_records_to_table("coupons", columns=COLUMNS, records=rows)
                seconds = time.perf_counter() - started
        finally:
            await pg.close()
    return {"seconds": seconds, **_memory(memory)}


def _memory(memory: PeakRss) -> dict[str, float]:
    return {
        "rss_before_mib": round(memory.before / MIB, 1),
        "rss_peak_mib": round(memory.peak / MIB, 1),
        "rss_growth_mib": round((memory.peak - memory.before) / MIB, 1),
        "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _count_rows(kind: str, where: str) -> int:
    query = "SELECT count(*) FROM coupons"
    if kind == "sqlite":
        with contextlib.closing(sqlite3.connect(where)) as connection:
            return int(connection.execute(query).fetchone()[0])

    async def count() -> int:
        connection = await asyncpg.connect(where)
        try:
            return int(await connection.fetchval(query))
        finally:
            await connection.close()

    return asyncio.run(count())


def child_main(path: str, kind: str, where: str, count: int, chunk: int, secret: str) -> int:
    if path == "real":
        result = asyncio.run(run_real(kind, where, count, secret))
    else:
        result = asyncio.run(run_bare(kind, where, count, chunk, secret))
    result["rows"] = _count_rows(kind, where)
    print(json.dumps(result))
    return 0


# --------------------------------------------------------------------------------------------
# Parent side.
# --------------------------------------------------------------------------------------------


class Interrupted(Exception):
    pass


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Interrupted


@dataclass
class Databases:
    kind: str
    workdir: Path
    pg_server: str
    admin_db: str

    def fresh(self, name: str) -> str:
        """A new empty database for one run: a file path, or a DSN of a just-created database."""
        if self.kind == "sqlite":
            path = self.workdir / f"{name}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return str(path)
        database = f"tessera_bench_codes_{name}"
        self._admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", f"CREATE DATABASE {database}")
        return f"postgresql://{self.pg_server}/{database}"

    def drop(self, where: str) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{where}{suffix}").unlink(missing_ok=True)
        else:
            self._admin(f"DROP DATABASE IF EXISTS {where.rsplit('/', 1)[1]} WITH (FORCE)")

    def _admin(self, *statements: str) -> None:
        async def run() -> None:
            connection = await asyncpg.connect(f"postgresql://{self.pg_server}/{self.admin_db}")
            try:
                for statement in statements:
                    await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(run())


class Children:
    def __init__(self) -> None:
        self.running: subprocess.Popen[str] | None = None

    def run(self, args: list[str]) -> dict[str, Any]:
        self.running = subprocess.Popen(
            [sys.executable, str(SCRIPT), "_child", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        out, err = self.running.communicate()
        code, self.running = self.running.returncode, None
        if code != 0:
            raise RuntimeError(f"child {args} failed ({code}):\n{err[-4000:]}")
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    def stop(self) -> None:
        if self.running is not None and self.running.poll() is None:
            self.running.kill()
            self.running.wait()


def bench(kind: str, args: argparse.Namespace, emit: Callable[[str], None]) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"tessera-bench-codes-{kind}-"))
    databases = Databases(kind, workdir, args.pg_server, args.pg_admin_db)
    children = Children()
    used: list[str] = []
    runs: dict[str, dict[str, Any]] = {}
    secret = secrets.token_urlsafe(36)  # one code secret per run, the same for every path
    plan = [("bare", "bare", args.codes), ("real", "real", args.codes)]
    probe = int(args.codes * args.probe)
    if probe > 0:
        plan.append(("real_probe", "real", probe))
    try:
        for name, path, count in plan:
            where = databases.fresh(name)
            used.append(where)
            emit(f"[{kind}] {name}: {count:,} codes …")
            result = children.run([path, kind, where, str(count), str(args.chunk), secret])
            if result["rows"] != count:
                raise RuntimeError(f"{name} wrote {result['rows']} rows, expected {count}")
            result["codes"] = count
            result["codes_per_s"] = round(count / result["seconds"])
            result["seconds"] = round(result["seconds"], 2)
            runs[name] = result
            databases.drop(where)
            used.remove(where)
    finally:
        children.stop()
        for where in used:
            with contextlib.suppress(Exception):
                databases.drop(where)
        shutil.rmtree(workdir, ignore_errors=True)

    ratio = runs["real"]["seconds"] / runs["bare"]["seconds"]
    summary: dict[str, Any] = {"time_ratio": round(ratio, 2), "time_ok": ratio <= TARGET_RATIO}
    if "real_probe" in runs:
        growth, small = runs["real"]["rss_growth_mib"], runs["real_probe"]["rss_growth_mib"]
        summary["memory_flat"] = growth <= small + FLAT_SLACK_MIB
    summary["met"] = summary["time_ok"] and summary.get("memory_flat", True)
    return {"runs": runs, **summary}


def report(kind: str, result: dict[str, Any], emit: Callable[[str], None]) -> None:
    emit(
        f"{'path':<22}  {'codes':>9}  {'seconds':>8}  {'codes/s':>8}  {'RSS before':>10}  "
        f"{'peak RSS':>9}  {'growth':>8}  {'ru_maxrss':>9}"
    )
    bare = "bare stdlib insert" if kind == "sqlite" else "bare asyncpg COPY"
    labels = {"bare": bare, "real": "real path (BulkCodes)", "real_probe": "real path, probe"}
    for name, r in result["runs"].items():
        emit(
            f"{labels[name]:<22}  {r['codes']:>9,}  {r['seconds']:>8.2f}  {r['codes_per_s']:>8,}  "
            f"{r['rss_before_mib']:>6.1f} MiB  {r['rss_peak_mib']:>5.1f} MiB  "
            f"{r['rss_growth_mib']:>+4.1f} MiB  {r['ru_maxrss_mib']:>5.1f} MiB"
        )
    emit(
        f"[{kind}] time real/bare: {result['time_ratio']:.2f} (needs <= {TARGET_RATIO:.1f}: "
        f"{'ok' if result['time_ok'] else 'no'})"
    )
    if "memory_flat" in result:
        runs = result["runs"]
        emit(
            f"[{kind}] memory: RSS growth {runs['real']['rss_growth_mib']:+.1f} MiB at "
            f"{runs['real']['codes']:,} codes vs {runs['real_probe']['rss_growth_mib']:+.1f} MiB at "
            f"{runs['real_probe']['codes']:,} (flat when within {FLAT_SLACK_MIB:.0f} MiB: "
            f"{'flat' if result['memory_flat'] else 'grows with the count'})"
        )
    emit(f"[{kind}] {'target met' if result['met'] else 'target missed'}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    from tessera.codes.bulk import CHUNK

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--codes", type=int, default=1_000_000, help="codes per path (max 1,000,000)")
    parser.add_argument(
        "--chunk", type=int, default=CHUNK, help="rows per bare transaction (product's CHUNK)"
    )
    parser.add_argument(
        "--probe",
        type=float,
        default=0.1,
        help="also run the real path at this fraction of --codes to check flat memory (0: skip)",
    )
    parser.add_argument("--pg-server", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--pg-admin-db", default="test", help="database to connect to for CREATE DATABASE")
    parser.add_argument("--json", action="store_true", help="print all figures as one JSON object at the end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_child"]:
        path, kind, where, count, chunk, secret = argv[1:7]
        return child_main(path, kind, where, int(count), int(chunk), secret)
    args = parse_args(argv)
    if not 1 <= args.codes <= 1_000_000:
        raise SystemExit("--codes must be between 1 and 1,000,000 (one batch)")
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored

    def emit(text: str) -> None:
        print(text, flush=True)

    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    results: dict[str, Any] = {}
    emit(f"Tessera bulk code generation benchmark: {args.codes:,} codes; {os.cpu_count()} CPUs")
    try:
        for kind in kinds:
            emit(f"\n== {kind} ==")
            results[kind] = bench(kind, args, emit)
            report(kind, results[kind], emit)
    except (KeyboardInterrupt, Interrupted):
        emit("interrupted; cleaned up")
        return 130
    if args.json:
        print(json.dumps({"benchmark": "codes", "codes": args.codes, "databases": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
