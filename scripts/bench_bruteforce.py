"""Guessing codes against the real server: how many guesses get through, and whether the answer
to an unknown code can be told from the answer to a real but expired one by its timing.

What is measured
    The real server (``uvicorn --factory tessera.app:app_from_env``, the flags ``tessera serve``
    uses) over a database holding ``--codes`` live codes (default 1,000,000, seeded through the
    API exactly as ``bench_redeem.py`` does) plus a campaign of ``--expired`` codes that has
    ended.

    1. *Brute force*, with the configured budgets: ``--guesses`` random well-formed codes (a
       valid check character, so each reaches the database) from ``--tills`` staff accounts
       spread over ``--stores`` stores. Printed: answers by status (a 201 would be a guessed
       code), how many guesses reached the database before the budgets cut them off, and the
       budgets that did it.
    2. *Timing*, on a second server whose budgets are out of reach: ``--samples`` unknown codes
       and as many expired ones, interleaved, one request at a time over one keep-alive
       connection. Printed: p10/median/p90 latency of each kind, their difference, and the
       ratio of the medians. The answers differ by design (404 against 410: staff are told a
       real coupon has expired); what must not differ is the time it takes to give either.

How to run (from the repository root)
    .venv/bin/python scripts/bench_bruteforce.py                       # SQLite, full size
    .venv/bin/python scripts/bench_bruteforce.py --database postgres
    .venv/bin/python scripts/bench_bruteforce.py --codes 20000 --guesses 2000 --samples 500   # quick

Figures are printed, never asserted. Every process, temporary directory and database is removed
at the end (PostgreSQL runs create and drop ``tessera_bench_real``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench_redeem import HOST, REAL_DB, Processes, _clean_env, _pg_admin, run_cli, seed, start_server
from tessera.codes.formats import random_code_from_bytes

UNREACHABLE = str(10**9)


def _call(client: httpx.Client, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = client.request(method, path, json=body, headers=headers)
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
    return response.json()


def expired_codes(port: int, marketer_key: str, count: int) -> list[str]:
    """A campaign whose ``count`` codes expire a few seconds after they are made."""
    marketer = {"Authorization": f"Bearer {marketer_key}"}
    now = datetime.now(UTC)
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=120) as client:
        campaign = _call(
            client,
            "POST",
            "/api/campaigns",
            {
                "name": "Ended",
                "discount": {"kind": "percent", "value": 10},
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(seconds=8)).isoformat(),
                "code": {"format": "random"},
                "limits": {"per_customer": None},
            },
            marketer,
        )
        batch = _call(client, "POST", f"/api/campaigns/{campaign['id']}/codes", {"count": count}, marketer)
        while batch["status"] != "done":
            time.sleep(0.2)
            batch = _call(client, "GET", batch["progress_url"], None, marketer)
        with client.stream("GET", batch["export_url"], headers=marketer) as response:
            rows = csv.DictReader(response.iter_lines())
            codes = [row["code"] for row in rows]
    wait = (now + timedelta(seconds=9) - datetime.now(UTC)).total_seconds()
    if wait > 0:
        time.sleep(wait)
    return codes


def staff_tokens(port: int, marketer_key: str, stores: int, tills: int) -> list[str]:
    marketer = {"Authorization": f"Bearer {marketer_key}"}
    tokens = []
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=60) as client:
        store_ids = [
            _call(client, "POST", "/api/stores", {"name": f"Till store {n}", "timezone": "UTC"}, marketer)[
                "id"
            ]
            for n in range(stores)
        ]
        for n in range(tills):
            username, password = f"guesser{n}", secrets.token_urlsafe(12)
            body = {"username": username, "password": password, "store_id": store_ids[n % stores]}
            _call(client, "POST", "/api/staff", body, marketer)
            login = _call(
                client, "POST", "/api/auth/staff/login", {"username": username, "password": password}, {}
            )
            tokens.append(login["token"])
    return tokens


async def guess(port: int, tokens: list[str], guesses: int) -> Counter[int]:
    """Random well-formed codes from every till in turn, 16 requests in flight."""
    statuses: Counter[int] = Counter()
    queue = iter(range(guesses))
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", limits=limits, timeout=30) as client:

        async def worker() -> None:
            for n in queue:
                code = random_code_from_bytes(secrets.token_bytes(15))
                headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
                answer = await client.post("/api/redemptions", json={"code": code}, headers=headers)
                statuses[answer.status_code] += 1

        await asyncio.gather(*(worker() for _ in range(16)))
    return statuses


def timing(port: int, token: str, expired: list[str], samples: int) -> dict[str, list[float]]:
    """Milliseconds per answer, unknown and expired codes interleaved (drift hits both alike)."""
    found: dict[str, list[float]] = {"unknown": [], "expired": []}
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as client:
        for n in range(samples * 2 + 200):
            kind = "unknown" if n % 2 == 0 else "expired"
            code = (
                random_code_from_bytes(secrets.token_bytes(15)) if kind == "unknown" else rng.choice(expired)
            )
            started = time.perf_counter()
            answer = client.post("/api/redemptions", json={"code": code}, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            expected = 404 if kind == "unknown" else 410
            if answer.status_code != expected:
                raise RuntimeError(f"{kind} code answered {answer.status_code}: {answer.text}")
            if n >= 200:  # the first 100 of each kind warm up
                found[kind].append(elapsed)
    return found


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    deciles = statistics.quantiles(values, n=10)
    return deciles[0], statistics.median(values), deciles[-1]


def run(args: argparse.Namespace) -> None:
    processes = Processes()
    workdir = Path(tempfile.mkdtemp(prefix="tessera-bruteforce-"))
    pg = f"postgresql://{args.pg_server}"
    try:
        if args.database == "sqlite":
            url = f"sqlite+aiosqlite:///{workdir / 'tessera.db'}"
        else:
            asyncio.run(
                _pg_admin(
                    f"{pg}/{args.pg_admin_db}",
                    f"DROP DATABASE IF EXISTS {REAL_DB} WITH (FORCE)",
                    f"CREATE DATABASE {REAL_DB}",
                )
            )
            url = f"postgresql+asyncpg://{args.pg_server}/{REAL_DB}"
        env = _clean_env(
            {
                "TESSERA_DATA_DIR": str(workdir),
                "TESSERA_DATABASE_URL": url,
                "TESSERA_CODE_SECRET": secrets.token_urlsafe(36),
                "TESSERA_LOG_LEVEL": "WARNING",
            }
        )
        print(
            f"[{args.database}] seeding {args.codes:,} live and {args.expired:,} expired codes …", flush=True
        )
        run_cli(["migrate"], env)
        marketer_key = run_cli(["keys", "create", "--role", "marketer"], env).strip().splitlines()[-1]
        server = start_server(processes, "server", "tessera.app:app_from_env", env, workdir)
        seeded = seed(server, args.codes, 1, random.Random(1), marketer_key)
        expired = expired_codes(server.port, marketer_key, args.expired)
        tokens = staff_tokens(server.port, marketer_key, args.stores, args.tills)

        started = time.perf_counter()
        statuses = asyncio.run(guess(server.port, tokens, args.guesses))
        elapsed = time.perf_counter() - started
        processes.stop(server.process)
        reached = statuses[404]
        tills = f"{args.tills} tills in {args.stores} stores"
        print(f"\nBrute force: {args.guesses:,} random well-formed codes from {tills}")
        print(f"  answers: {dict(sorted(statuses.items()))} in {elapsed:.1f} s")
        print(f"  guessed (201): {statuses[201]}")
        print(f"  reached the database before the budgets cut them off: {reached:,}")
        print(
            "  budgets (defaults unless set): 10 failures per staff account, 30 per store, "
            "500 for all scans, per 300 s window"
        )

        open_env = {
            **env,
            "TESSERA_FAILED_SCANS_PER_WINDOW": UNREACHABLE,
            "TESSERA_FAILED_SCANS_PER_STORE": UNREACHABLE,
            "TESSERA_FAILED_SCANS_IN_ALL": UNREACHABLE,
        }
        server = start_server(processes, "timing", "tessera.app:app_from_env", open_env, workdir)
        found = timing(server.port, seeded.token, expired, args.samples)
        unknown, ended = _quantiles(found["unknown"]), _quantiles(found["expired"])
        print(f"\nTiming: {args.samples:,} answers of each kind, interleaved, one at a time")
        print("  kind       p10 ms  median ms  p90 ms")
        for name, (p10, median, p90) in (("unknown", unknown), ("expired", ended)):
            print(f"  {name:9} {p10:7.3f} {median:10.3f} {p90:7.3f}")
        difference = unknown[1] - ended[1]
        print(
            f"  median difference {difference:+.3f} ms (ratio {unknown[1] / ended[1]:.3f}); "
            f"p90 difference {unknown[2] - ended[2]:+.3f} ms -> "
            + (
                "indistinguishable at 1 ms"
                if abs(difference) < 1 and abs(unknown[2] - ended[2]) < 1
                else "DIFFERENT"
            )
        )
    finally:
        processes.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        if args.database == "postgres":
            with contextlib.suppress(Exception):
                asyncio.run(
                    _pg_admin(f"{pg}/{args.pg_admin_db}", f"DROP DATABASE IF EXISTS {REAL_DB} WITH (FORCE)")
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--codes", type=int, default=1_000_000, help="live codes")
    parser.add_argument("--expired", type=int, default=2_000, help="codes of an ended campaign")
    parser.add_argument("--guesses", type=int, default=10_000)
    parser.add_argument("--tills", type=int, default=20, help="staff accounts guessing")
    parser.add_argument("--stores", type=int, default=4)
    parser.add_argument("--samples", type=int, default=2_000, help="timed answers of each kind")
    parser.add_argument("--pg-server", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--pg-admin-db", default="test")
    run(parser.parse_args(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
