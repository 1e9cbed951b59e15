"""Mail-merge throughput: the real endpoint against a bare bulk insert of the same coupons.

What is measured
    *Real path*: ``POST /api/mail-merges`` on the real server (``uvicorn --factory
    tessera.app:app_from_env``, the flags ``tessera serve`` uses, embedded worker on) with
    ``--recipients`` customers given by id, a template naming one campaign three times (code,
    coupon URL, wallet link) plus ``{{name}}``, read as a stream by an httpx client. Each run has
    a fresh ``message_id``, so every recipient gets a fresh code: for each chunk of 1,000, the
    customer and coupon lookups, the serial allocation, the coupon and ``issued`` event inserts,
    the commit, then rendering and streaming the lines. Printed: recipients/s, the time to the
    first line and the server's RSS before and after (a stream holds one chunk, not the list).
    A repeat of the same request (same codes, nothing issued) is timed too.

    *Bare baseline*, measured in the same run on the same database (its own campaign): the same
    number of coupons for the same customers, written with the fastest obvious code, per chunk
    of 1,000 in one transaction: the serial range taken with one ``UPDATE … RETURNING``, each
    code derived and digested with ``CodeKeys``, then stdlib ``sqlite3`` ``executemany`` of the
    coupons and the ``issued`` events (PostgreSQL: asyncpg ``copy_records_to_table``). No HTTP,
    no lookups, no rendering. Runs alternate baseline → real so drift hits both alike.

    Customers are written straight into the database (registration is not what is measured);
    the campaign is created and published through the API first.

How to run (from the repository root)
    .venv/bin/python scripts/bench_mail_merge.py                      # SQLite, 10,000 recipients
    .venv/bin/python scripts/bench_mail_merge.py --database both --runs 5
    .venv/bin/python scripts/bench_mail_merge.py --recipients 100000 --json

    PostgreSQL runs create and drop the database ``tessera_bench_mailmerge``; SQLite runs use a
    temporary directory. Both are removed at the end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench_redeem import Interrupted, Processes, _clean_env, _on_sigterm, _pg_admin, run_cli, start_server
from tessera.codes.keys import CodeKeys
from tessera.core.db.base import sqlite_time

PAGE = os.sysconf("SC_PAGE_SIZE")
CHUNK = 1000
PG_DB = "tessera_bench_mailmerge"
TEMPLATE = {
    "subject": "{{name}}, a present for you",
    "body": "Hi {{name}}, your code is {{coupon:bench}}. Open it: {{coupon_url:bench}} "
    "or add it to your wallet: {{wallet_link:bench}}",
}


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/statm", "rb") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def customer_rows(count: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    for i in range(count):
        yield (f"reader{i}@example.com", f"Reader {i}", '["news"]', "{}", True, False, now)


def seed_customers(kind: str, target: str, count: int) -> list[int]:
    now = datetime.now(UTC)
    insert = (
        "INSERT INTO customers (email, name, tags, attributes, marketing_consent, push_consent, created_at) "
        "VALUES ({})"
    )
    if kind == "sqlite":
        with contextlib.closing(sqlite3.connect(target)) as connection, connection:
            rows = [(*row[:-1], sqlite_time(row[-1])) for row in customer_rows(count, now)]
            connection.executemany(insert.format(", ".join("?" * 7)), rows)
            return [row[0] for row in connection.execute("SELECT id FROM customers ORDER BY id")]

    async def postgres() -> list[int]:
        connection = await asyncpg.connect(target)
        try:
            await connection.copy_records_to_table(
                "customers",
                columns=[
                    "email",
                    "name",
                    "tags",
                    "attributes",
                    "marketing_consent",
                    "push_consent",
                    "created_at",
                ],
                records=list(customer_rows(count, now)),
            )
            return [row[0] for row in await connection.fetch("SELECT id FROM customers ORDER BY id")]
        finally:
            await connection.close()

    return asyncio.run(postgres())


def bare_insert(
    kind: str, target: str, keys: CodeKeys, campaign: dict[str, Any], customers: list[int]
) -> float:
    """The baseline: the same coupons and events, chunk by chunk, with nothing else around them."""
    campaign_id, length = campaign["id"], campaign["code"]["length"]
    now = datetime.now(UTC)
    starts = datetime.fromisoformat(campaign["starts_at"])
    expires = min(datetime.fromisoformat(campaign["ends_at"]), now + timedelta(days=7))
    origin = f"message:bare-{secrets.token_hex(4)}"
    started = time.perf_counter()
    if kind == "sqlite":
        with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=10000")
            for start in range(0, len(customers), CHUNK):
                chunk = customers[start : start + CHUNK]
                connection.execute("BEGIN IMMEDIATE")
                (end,) = connection.execute(
                    "UPDATE campaigns SET next_serial = next_serial + ? WHERE id = ? RETURNING next_serial",
                    (len(chunk), campaign_id),
                ).fetchone()
                first = end - len(chunk)
                t_now, t_start, t_exp = sqlite_time(now), sqlite_time(starts), sqlite_time(expires)
                connection.executemany(
                    "INSERT INTO coupons (campaign_id, serial, code_digest, customer_id, origin, channel, "
                    "issued_at, starts_at, expires_at, redemption_seq) "
                    "VALUES (?, ?, ?, ?, ?, 'email', ?, ?, ?, 0)",
                    [
                        (
                            campaign_id,
                            first + i,
                            keys.digest(keys.random_code(campaign_id, first + i, length)),
                            customer,
                            origin,
                            t_now,
                            t_start,
                            t_exp,
                        )
                        for i, customer in enumerate(chunk)
                    ],
                )
                # One writer inside BEGIN IMMEDIATE: the chunk's rowids are consecutive.
                (last,) = connection.execute("SELECT last_insert_rowid()").fetchone()
                connection.executemany(
                    "INSERT INTO events (occurred_at, type, campaign_id, coupon_id, customer_id, channel) "
                    "VALUES (?, 'issued', ?, ?, ?, 'email')",
                    [(t_now, campaign_id, last - len(chunk) + 1 + i, c) for i, c in enumerate(chunk)],
                )
                connection.execute("COMMIT")
        return time.perf_counter() - started

    async def postgres() -> None:
        connection = await asyncpg.connect(target)
        try:
            for start in range(0, len(customers), CHUNK):
                chunk = customers[start : start + CHUNK]
                async with connection.transaction():
                    end = await connection.fetchval(
                        "UPDATE campaigns SET next_serial = next_serial + $1 WHERE id = $2 "
                        "RETURNING next_serial",
                        len(chunk),
                        campaign_id,
                    )
                    first = end - len(chunk)
                    rows = await connection.fetch(
                        "INSERT INTO coupons (campaign_id, serial, code_digest, customer_id, origin, "
                        "channel, issued_at, starts_at, expires_at, redemption_seq) "
                        "SELECT $1, s, d, c, $2, 'email', "
                        "$3, $4, $5, 0 FROM unnest($6::bigint[], $7::bytea[], $8::int[]) AS t(s, d, c) "
                        "RETURNING id, customer_id",
                        campaign_id,
                        origin,
                        now,
                        starts,
                        expires,
                        [first + i for i in range(len(chunk))],
                        [
                            keys.digest(keys.random_code(campaign_id, first + i, length))
                            for i in range(len(chunk))
                        ],
                        chunk,
                    )
                    await connection.copy_records_to_table(
                        "events",
                        columns=["occurred_at", "type", "campaign_id", "coupon_id", "customer_id", "channel"],
                        records=[
                            (now, "issued", campaign_id, r["id"], r["customer_id"], "email") for r in rows
                        ],
                    )
        finally:
            await connection.close()

    asyncio.run(postgres())
    return time.perf_counter() - started


def real_merge(base_url: str, marketer: str, customers: list[int], message_id: str) -> dict[str, float]:
    body = {
        "message_id": message_id,
        "channel": "email",
        "template": TEMPLATE,
        "recipients": [{"customer_id": customer} for customer in customers],
    }
    headers = {"Authorization": f"Bearer {marketer}"}
    started = time.perf_counter()
    first_line = None
    last: dict[str, Any] = {}
    lines = 0
    with (
        httpx.Client(timeout=600) as client,
        client.stream("POST", f"{base_url}/api/mail-merges", json=body, headers=headers) as response,
    ):
        if response.status_code != 200:
            raise RuntimeError(f"mail merge answered {response.status_code}: {response.read()[:500]!r}")
        for line in response.iter_lines():
            if first_line is None:
                first_line = time.perf_counter() - started
            lines += 1
            last = json.loads(line)
    elapsed = time.perf_counter() - started
    if last.get("type") != "end" or last["messages"] != len(customers) or lines != len(customers) + 1:
        raise RuntimeError(f"incomplete answer: {lines} lines, last {last}")
    return {"seconds": elapsed, "first_line_s": first_line or elapsed, "issued": last["issued"]}


def bench_database(kind: str, args: argparse.Namespace, emit: Any) -> dict[str, Any]:
    secret = secrets.token_urlsafe(36)
    keys = CodeKeys(secret)
    processes = Processes()
    workdir = Path(tempfile.mkdtemp(prefix=f"tessera-bench-mm-{kind}-", dir=args.tmp_dir))
    pg_server = f"postgresql://{args.pg_server}"
    admin_dsn = f"{pg_server}/{args.pg_admin_db}"
    created = False
    try:
        if kind == "sqlite":
            target = str(workdir / "tessera.db")
            url = f"sqlite+aiosqlite:///{target}"
        else:
            asyncio.run(
                _pg_admin(
                    admin_dsn, f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)", f"CREATE DATABASE {PG_DB}"
                )
            )
            created = True
            target = f"{pg_server}/{PG_DB}"
            url = f"postgresql+asyncpg://{args.pg_server}/{PG_DB}"
        env = _clean_env(
            {
                "TESSERA_DATA_DIR": str(workdir),
                "TESSERA_DATABASE_URL": url,
                "TESSERA_CODE_SECRET": secret,
                "TESSERA_LOG_LEVEL": "WARNING",
            }
        )
        run_cli(["migrate"], env)
        marketer = run_cli(["keys", "create", "--role", "marketer"], env).strip().splitlines()[-1]
        server = start_server(processes, "real", "tessera.app:app_from_env", env, workdir)
        base_url = f"http://127.0.0.1:{server.port}"
        auth = {"Authorization": f"Bearer {marketer}"}
        now = datetime.now(UTC)
        campaigns = {}
        for slug in ("bench", "bare"):
            created_campaign = httpx.post(
                f"{base_url}/api/campaigns",
                json={
                    "name": f"Bench {slug}",
                    "slug": slug,
                    "discount": {"kind": "percent", "value": 10},
                    "starts_at": (now - timedelta(hours=1)).isoformat(),
                    "ends_at": (now + timedelta(days=30)).isoformat(),
                    "coupon_valid_days": 7,
                },
                headers=auth,
            ).json()
            published = httpx.post(f"{base_url}/api/campaigns/{created_campaign['id']}/publish", headers=auth)
            published.raise_for_status()
            campaigns[slug] = created_campaign
        emit(f"[{kind}] seeding {args.recipients:,} customers in {workdir} …")
        customers = seed_customers(kind, target, args.recipients)

        real: list[dict[str, float]] = []
        bare: list[float] = []
        rss_before = rss_mib(server.pid)
        for run in range(args.runs):
            bare.append(bare_insert(kind, target, keys, campaigns["bare"], customers))
            real.append(real_merge(base_url, marketer, customers, f"bench-{run}"))
            emit(
                f"[{kind}] run {run + 1}: real {real[-1]['seconds']:.2f} s "
                f"(first line after {real[-1]['first_line_s'] * 1000:.0f} ms), bare {bare[-1]:.2f} s"
            )
        rss_after = rss_mib(server.pid)
        repeat = real_merge(base_url, marketer, customers, "bench-0")
        if repeat["issued"] != 0:
            raise RuntimeError(f"a repeated merge issued {repeat['issued']} coupons")
        real_s = statistics.median(r["seconds"] for r in real)
        bare_s = statistics.median(bare)
        return {
            "database": kind,
            "recipients": args.recipients,
            "runs": args.runs,
            "real_recipients_per_s": round(args.recipients / real_s),
            "bare_recipients_per_s": round(args.recipients / bare_s),
            "ratio": round(bare_s / real_s, 2),
            "real_median_s": round(real_s, 2),
            "bare_median_s": round(bare_s, 2),
            "first_line_ms": round(statistics.median(r["first_line_s"] for r in real) * 1000),
            "repeat_recipients_per_s": round(args.recipients / repeat["seconds"]),
            "server_rss_mib_before": round(rss_before, 1),
            "server_rss_mib_after": round(rss_after, 1),
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
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document")
    parser.add_argument("--tmp-dir", default=None, help="where the SQLite files and logs go")
    parser.add_argument("--pg-server", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--pg-admin-db", default="test", help="database to connect to for CREATE DATABASE")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    emit = (lambda _message: None) if args.json else (lambda message: print(message, flush=True))
    results = []
    try:
        for kind in kinds:
            results.append(bench_database(kind, args, emit))
    except (KeyboardInterrupt, Interrupted):
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print()
    print(
        "| database | recipients | Tessera | bare insert | ratio | first line "
        "| repeat (nothing issued) | server RSS |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['database']} | {r['recipients']:,} | {r['real_recipients_per_s']:,} /s | "
            f"{r['bare_recipients_per_s']:,} /s | {r['ratio']} | {r['first_line_ms']} ms | "
            f"{r['repeat_recipients_per_s']:,} /s | "
            f"{r['server_rss_mib_before']} → {r['server_rss_mib_after']} MiB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
