"""Crash run: SIGKILL server processes again and again under redemption load, restart them on
the same port, then hold every answer a till got against the database.

What happens
    A fresh database (SQLite file, or a PostgreSQL database made for the run and dropped after
    it) is migrated; ``tessera keys create --role marketer`` makes the key the seeding uses. One
    server process (SQLite is the one-process store) or ``--processes`` of them (PostgreSQL,
    default 2) run ``uvicorn --factory tessera.app:app_from_env``. A store, four logged-in tills
    and a campaign of ``--codes`` printed codes are made through the API (codes from the CSV
    export).

    ``--concurrency`` clients then redeem every code once, each with its own
    ``Idempotency-Key``. Whenever another ``1/(kills+1)`` of the codes has been answered, a killer
    SIGKILLs the next server (in turn) and starts it again on its port. A request that got no
    answer (connection cut or refused, 503, ``request_in_progress``) is sent again with the same
    key, to the next server, until one answers.

    The checks (``scripts/crash_harness.py``, shared with ``tests/test_crash.py``):

    * every code was answered 201 (nothing else is right for a code redeemed only by its key);
    * lost: acknowledged redemptions whose id and coupon the database does not have;
    * doubled: coupons with more than one redemption row;
    * unannounced: redemption rows no till was told about;
    * replay mismatches: each key sent once more must answer 201 with the first body and
      ``Idempotent-Replayed: true``.

    Printed: requests (retries included), acknowledged, retried, recovered (first answer was a
    replay: the killed process had committed but not answered), requests without an answer,
    requests in flight at each kill, kills, and the four failure counts. Any failure exits 1.

How to run (from the repository root)
    .venv/bin/python scripts/crash_redeem.py                       # SQLite, 5,000 codes, 10 kills
    .venv/bin/python scripts/crash_redeem.py --database postgres   # two server processes
    .venv/bin/python scripts/crash_redeem.py --database both --codes 1000 --kills 4
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import asyncpg

from crash_harness import CrashLoad, Findings, KillableServer, check, free_port, seed_codes
from tessera.assembly.migrate import upgrade


async def _pg_admin(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _marketer_key(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tessera.cli", "keys", "create", "--role", "marketer", "--name", "crash run"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tessera keys create failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


async def _crash(
    url: str, env: dict[str, str], workdir: Path, args: argparse.Namespace, processes: int
) -> tuple[CrashLoad, Findings, float]:
    servers = [KillableServer(env, free_port(), workdir / f"server{n}.log") for n in range(processes)]
    try:
        for server in servers:  # one after the other: the first makes the development credentials
            await server.start()
        seeded = await seed_codes(servers[0].url, _marketer_key(env), args.codes)
        print(f"  {args.codes:,} codes seeded; redeeming with {args.concurrency} clients, {args.kills} kills")
        load = CrashLoad(servers, seeded, concurrency=args.concurrency, seconds=args.seconds)
        started = time.perf_counter()
        await load.run(kills=args.kills)
        elapsed = time.perf_counter() - started
        findings = await check(url, seeded.campaign_id, load)
        return load, findings, elapsed
    except BaseException:
        for server in servers:
            print(f"--- {server.log.name}\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        for server in servers:
            await server.stop()


def run_database(kind: str, args: argparse.Namespace) -> bool:
    processes = 1 if kind == "sqlite" else args.processes
    workdir = Path(tempfile.mkdtemp(prefix=f"tessera-crash-{kind}-"))
    admin = f"postgresql://{args.pg_server}/{args.pg_admin_db}"
    database = f"tessera_crash_{secrets.token_hex(4)}"
    created = False
    try:
        if kind == "sqlite":
            url = f"sqlite+aiosqlite:///{workdir / 'tessera.db'}"
        else:
            asyncio.run(_pg_admin(admin, f'CREATE DATABASE "{database}"'))
            created = True
            url = f"postgresql+asyncpg://{args.pg_server}/{database}"
        print(f"[{kind}] {processes} server process(es), work directory {workdir}")
        upgrade(url)
        env = {name: value for name, value in os.environ.items() if not name.startswith("TESSERA_")}
        env |= {
            "TESSERA_DATABASE_URL": url,
            "TESSERA_DATA_DIR": str(workdir),
            "TESSERA_CODE_SECRET": secrets.token_urlsafe(36),
            "TESSERA_LOG_LEVEL": "WARNING",
        }
        load, findings, elapsed = asyncio.run(_crash(url, env, workdir, args, processes))
    finally:
        if created:
            with contextlib.suppress(Exception):
                asyncio.run(_pg_admin(admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        if args.keep_temp:
            print(f"  kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    figures = load.figures
    kills = len(figures.interrupted)
    held = findings.held and figures.acknowledged == args.codes and kills == args.kills
    rows = [
        ("requests", figures.requests),
        ("acknowledged", figures.acknowledged),
        ("retried", figures.retried),
        ("recovered", figures.recovered),
        ("without an answer", figures.no_answer),
        ("unavailable", figures.unavailable),
        ("kills", kills),
        ("in flight at each kill", ", ".join(map(str, figures.interrupted))),
        ("redemption rows", findings.redemption_rows),
        ("refused", findings.refused),
        ("lost", findings.lost),
        ("doubled", findings.doubled),
        ("unannounced", findings.unannounced),
        ("replay mismatches", findings.replay_mismatches),
        ("load seconds", f"{elapsed:.1f}"),
    ]
    for name, value in rows:
        print(f"  {name:<24} {value}")
    for detail in findings.details:
        print(f"  ! {detail}")
    print(f"[{kind}] {'invariants held' if held else 'INVARIANTS BROKEN'}")
    if args.json:
        print(
            json.dumps(
                {"database": kind, "figures": asdict(figures), "findings": asdict(findings), "held": held}
            )
        )
    return held


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--codes", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--processes", type=int, default=2, help="server processes on PostgreSQL")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=600, help="give up on the load after this long")
    parser.add_argument("--pg-server", default=os.environ.get("TESSERA_CRASH_PG", "postgres@127.0.0.1:5432"))
    parser.add_argument("--pg-admin-db", default="test")
    parser.add_argument("--keep-temp", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.kills < 1 or args.codes < 2 * (args.kills + 1) or args.processes < 1:
        parser.error("need --kills >= 1, --processes >= 1 and at least two codes per stretch between kills")
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    results = [run_database(kind, args) for kind in kinds]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
