"""Analytics read speed over a large event log, through the real server, and how fresh it is.

What is loaded
    A migrated database (SQLite, or PostgreSQL with ``--database postgres``) gets 10 stores with
    one staff account each and ``--campaigns`` campaigns through the HTTP API, then, written
    straight into the tables with the bare driver, 2 coupons per 5 events and the events of
    their lives: ``--events`` events in all (default 5,000,000), of which a fifth are
    redemptions (default 1,000,000), over six distribution channels, five media and the ten
    stores, with wallet saves, validations, notifications and voids (each void naming its
    redemption). Then the rollups and the trigger follower are brought up to date the way the
    worker does it (``Rollup.run``, ``EventTriggers.run``; their speeds are printed), and the
    server is started with its embedded worker.

What is timed (sequential requests after a warm-up; p50/p95/max in ms)
    * ``channels, one campaign``: ``GET /api/analytics/channels?campaign_id=…`` (random campaign);
    * ``channels, all campaigns``: ``GET /api/analytics/channels``;
    * ``dashboard campaign page``: the five requests the console's campaign page sends at once
      (campaign, channels by channel and by medium, daily series, stores), wall time.
    Baseline, in the same run: the bare driver running the per-channel counts of one campaign
    (``SELECT channel, type, count(*) … WHERE campaign_id = ? GROUP BY …``, on the event log's
    campaign index) — what any query of the raw log pays at least. Also printed: the same API
    calls with a ``since`` window, which read the event log instead of the rollups.

Freshness
    A redemption made through the API is looked for in the per-channel figures of its campaign
    and of all campaigns right after its 201: the time until it is counted is printed (the
    target is under a second), and again after the worker has rolled it up (counted once).

Target: p95 under 50 ms for each of the three, on SQLite and on PostgreSQL. A missed target is
printed, never turned into a failing exit status.

    .venv/bin/python scripts/bench_analytics.py                        # SQLite, full size
    .venv/bin/python scripts/bench_analytics.py --database postgres    # tessera_bench_analytics
    .venv/bin/python scripts/bench_analytics.py --events 200000 --requests 50   # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tessera.analytics.rollup import Rollup
from tessera.assembly.migrate import upgrade
from tessera.auth.services import create_api_key
from tessera.codes.keys import CodeKeys
from tessera.core.clock import SystemClock
from tessera.core.db.base import sqlite_time
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.logs import configure_logging
from tessera.core.settings import DatabaseSettings
from tessera.triggers.events import EventTriggers

HOST = "127.0.0.1"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "tessera_bench_analytics"
TARGET_P95_MS = 50.0
PASSWORD = "bench password 1234"  # noqa: S105 (a throwaway benchmark account)
CHANNELS = [("pwa", 40), ("push", 15), ("email", 20), ("sms", 10), ("print", 10), ("api", 5)]
MEDIA = [("pwa", 35), ("apple_wallet", 25), ("google_wallet", 15), ("print", 15), ("manual", 10)]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _weighted(pairs: list[tuple[str, int]], count: int, rng: random.Random) -> list[str]:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights, k=count)


@dataclass
class World:
    stores: list[int]
    staff: list[int]
    campaigns: list[int]
    marketer: dict[str, str]
    staff_token: dict[str, str]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def server(env: dict[str, str], log: Path) -> Iterator[str]:
    port = _free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "tessera.app:app_from_env",
        "--host", HOST, "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
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
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


async def seed(url: str, marketer_key: str, campaigns: int) -> World:
    marketer = {"Authorization": f"Bearer {marketer_key}"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def post(path: str, body: dict[str, Any]) -> Any:
            response = await client.post(path, json=body, headers=marketer)
            response.raise_for_status()
            return response.json()

        stores, staff = [], []
        for number in range(10):
            store = await post("/api/stores", {"name": f"Store {number + 1}", "timezone": "Europe/Rome"})
            stores.append(store["id"])
            user = await post(
                "/api/staff", {"username": f"till{number + 1}", "password": PASSWORD, "store_id": store["id"]}
            )
            staff.append(user["id"])
        created = []
        for number in range(campaigns):
            starts = START + timedelta(hours=12 * number)
            campaign = await post(
                "/api/campaigns",
                {
                    "name": f"Campaign {number + 1}",
                    "description": "Benchmark campaign",
                    "discount": {"kind": "percent", "value": 10 + number % 30},
                    "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(days=3650)).isoformat(),
                    "coupon_valid_days": 3000,
                },
            )
            created.append(campaign["id"])
        await post(f"/api/campaigns/{created[0]}/publish", {})  # the freshness check issues from it
        login = await client.post("/api/auth/staff/login", json={"username": "till1", "password": PASSWORD})
        login.raise_for_status()
    return World(stores, staff, created, marketer, {"Authorization": f"Bearer {login.json()['token']}"})


def generate(world: World, total_events: int, rng: random.Random) -> tuple[list[tuple[Any, ...]], ...]:
    """Coupons, redemption rows (for the voided ones) and events, ids assigned here."""
    coupons_n = total_events * 2 // 5
    redeemed_n = total_events // 5
    channels = _weighted(CHANNELS, coupons_n, rng)
    coupons: list[tuple[Any, ...]] = []
    redemptions: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    campaign_of = [world.campaigns[index % len(world.campaigns)] for index in range(coupons_n)]
    serial: dict[int, int] = {}
    issued_at: list[datetime] = []
    for index in range(coupons_n):
        campaign = campaign_of[index]
        serial[campaign] = serial.get(campaign, 0) + 1
        number = index % len(world.campaigns)  # campaigns start 12 hours apart
        issued = START + timedelta(hours=12 * number, seconds=rng.randrange(0, 3 * 86400))
        issued_at.append(issued)
        coupons.append(
            (
                index + 1,
                campaign,
                serial[campaign],
                rng.randbytes(16),
                f"bench-{index + 1}",
                channels[index],
                issued,
            )
        )
    plan: list[tuple[datetime, str, int, dict[str, Any]]] = []
    share = {  # events per coupon type, besides issued (one per coupon) and redeemed
        "notified": 0.40,
        "pass_downloaded": 0.20,
        "wallet_saved": 0.15,
        "wallet_removed": 0.025,
        "validated": 0.20,
    }
    for index in range(coupons_n):
        plan.append((issued_at[index], "issued", index, {}))
    for type_, fraction in share.items():
        for index in rng.sample(range(coupons_n), int(coupons_n * fraction)):
            plan.append((issued_at[index] + timedelta(seconds=rng.randrange(60, 86400)), type_, index, {}))
    redeemed = rng.sample(range(coupons_n), redeemed_n)
    media = _weighted(MEDIA, redeemed_n, rng)
    voided = set(rng.sample(range(redeemed_n), redeemed_n // 40))
    for position, index in enumerate(redeemed):
        delay = min(rng.lognormvariate(11.5, 1.3), 80 * 86400)  # median about 1.1 days
        at = issued_at[index] + timedelta(seconds=delay)
        till = rng.randrange(len(world.stores))
        fields = {"medium": media[position], "store": till, "amount": rng.randrange(500, 20_000)}
        plan.append((at, "redeemed", index, fields))
        if position in voided:
            redemption_id = len(redemptions) + 1
            redemptions.append(
                (redemption_id, "redeem", index + 1, 1, campaign_of[index], world.stores[till],
                 world.staff[till], media[position], channels[index], fields["amount"], at)
            )  # fmt: skip
            plan.append((at + timedelta(minutes=3), "voided", index, {**fields, "redemption": redemption_id}))
    # Event ids follow time, as they do when events are written as things happen.
    plan.sort(key=lambda item: item[0])
    for event_id, (at, type_, index, fields) in enumerate(plan, start=1):
        till = fields.get("store")
        events.append(
            (
                event_id, at, type_, campaign_of[index], index + 1, None, channels[index],
                fields.get("medium"), None if till is None else world.stores[till],
                None if till is None else world.staff[till], fields.get("amount"), 1,
                fields.get("redemption"),
            )
        )  # fmt: skip
    return coupons, redemptions, events


EVENT_COLUMNS = [
    "id", "occurred_at", "type", "campaign_id", "coupon_id", "customer_id", "channel", "medium",
    "store_id", "staff_id", "amount", "quantity", "redemption_id",
]  # fmt: skip
COUPON_COLUMNS = ["id", "campaign_id", "serial", "code_digest", "origin", "channel", "issued_at"]
REDEMPTION_COLUMNS = [
    "id", "kind", "coupon_id", "seq", "campaign_id", "store_id", "staff_id", "medium", "channel",
    "order_total", "occurred_at",
]  # fmt: skip


# Serials taken by the loaded coupons are not handed out again.
_NEXT_SERIALS = (
    "UPDATE campaigns SET next_serial = "
    "(SELECT coalesce(max(serial), 0) + 1 FROM coupons WHERE coupons.campaign_id = campaigns.id)"
)


def load_sqlite(path: str, coupons: list[Any], redemptions: list[Any], events: list[Any]) -> None:
    def coupon_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
        issued = sqlite_time(row[6])
        expires = sqlite_time(row[6] + timedelta(days=3000))
        return (*row[:6], issued, issued, expires)

    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        with connection:
            connection.executemany(
                "INSERT INTO coupons (id, campaign_id, serial, code_digest, origin, channel, issued_at, "
                "starts_at, expires_at, redemption_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                map(coupon_row, coupons),
            )
            connection.executemany(
                f"INSERT INTO redemptions ({', '.join(REDEMPTION_COLUMNS)}) VALUES ({', '.join('?' * 11)})",  # noqa: S608
                ((*row[:10], sqlite_time(row[10])) for row in redemptions),
            )
            connection.executemany(
                f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * 13)})",  # noqa: S608
                ((row[0], sqlite_time(row[1]), *row[2:]) for row in events),
            )
            connection.execute(_NEXT_SERIALS)
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def load_postgres(dsn: str, coupons: list[Any], redemptions: list[Any], events: list[Any]) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "coupons",
            records=[(*row, row[6], row[6] + timedelta(days=3000), 0) for row in coupons],
            columns=[*COUPON_COLUMNS, "starts_at", "expires_at", "redemption_seq"],
        )
        await connection.copy_records_to_table("redemptions", records=redemptions, columns=REDEMPTION_COLUMNS)
        await connection.copy_records_to_table("events", records=events, columns=EVENT_COLUMNS)
        for table in ("coupons", "redemptions", "events"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
        await connection.execute(_NEXT_SERIALS)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def _summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(ordered[len(ordered) // 2], 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
        "max_ms": round(ordered[-1], 2),
    }


async def time_requests(
    client: httpx.AsyncClient, paths: Any, requests: int, headers: dict[str, str]
) -> dict[str, float]:
    """``paths()`` gives the paths of one measured unit, sent at once; the unit's wall time."""
    samples = []
    for round_ in range(requests + requests // 5):
        batch = paths()
        started = time.perf_counter()
        answers = await asyncio.gather(*(client.get(path, headers=headers) for path in batch))
        elapsed = (time.perf_counter() - started) * 1000
        for answer in answers:
            answer.raise_for_status()
        if round_ >= requests // 5:
            samples.append(elapsed)
    return _summary(samples)


async def time_baseline(
    kind: str, target: str, campaigns: list[int], requests: int, rng: random.Random
) -> Any:
    query = "SELECT channel, type, count(*) FROM events WHERE campaign_id = {} GROUP BY channel, type"
    samples = []
    if kind == "sqlite":
        connection = sqlite3.connect(target)
        try:
            for round_ in range(requests + requests // 5):
                started = time.perf_counter()
                connection.execute(query.format("?"), (rng.choice(campaigns),)).fetchall()
                if round_ >= requests // 5:
                    samples.append((time.perf_counter() - started) * 1000)
        finally:
            connection.close()
    else:
        pg = await asyncpg.connect(target)
        try:
            for round_ in range(requests + requests // 5):
                started = time.perf_counter()
                await pg.fetch(query.format("$1"), rng.choice(campaigns))
                if round_ >= requests // 5:
                    samples.append((time.perf_counter() - started) * 1000)
        finally:
            await pg.close()
    return _summary(samples)


async def freshness(client: httpx.AsyncClient, world: World, campaign_id: int) -> dict[str, Any]:
    """Issue and redeem one coupon through the API; how long until the figures count it."""
    marketer = world.marketer
    registered = await client.post(
        "/api/customers",
        json={"email": f"fresh-{time.time_ns()}@example.com", "consent": {"terms": True, "marketing": True}},
    )
    registered.raise_for_status()
    customer = registered.json()
    issued = await client.post(
        f"/api/campaigns/{campaign_id}/coupons",
        json={"customer_id": customer["id"], "channel": "sms"},
        headers={**marketer, "Idempotency-Key": f"fresh-{time.time_ns()}"},
    )
    if issued.status_code != 201:
        raise RuntimeError(issued.text)
    mine = await client.get("/api/me/coupons", headers={"Authorization": f"Bearer {customer['token']}"})
    (coupon,) = [c for c in mine.json() if c["campaign"]["id"] == campaign_id and c["channel"] == "sms"]

    async def redeemed_sms(scope: dict[str, Any]) -> int:
        answer = await client.get("/api/analytics/channels", params=scope, headers=marketer)
        rows = {row["key"]: row for row in answer.json()["rows"]}
        return int(rows.get("sms", {}).get("redeemed", 0))

    scopes = {"one campaign": {"campaign_id": campaign_id}, "all campaigns": {}}
    before = {name: await redeemed_sms(scope) for name, scope in scopes.items()}
    answer = await client.post(
        "/api/redemptions",
        json={"code": coupon["code"]},
        headers={**world.staff_token, "Idempotency-Key": f"fresh-{time.time_ns()}"},
    )
    answer.raise_for_status()
    committed = time.perf_counter()
    seen: dict[str, Any] = {}
    for name, scope in scopes.items():
        while await redeemed_sms(scope) != before[name] + 1:
            if time.perf_counter() - committed > 10:
                break
            await asyncio.sleep(0.01)
        seen[f"{name}: counted after ms"] = round((time.perf_counter() - committed) * 1000, 1)
    await asyncio.sleep(3)  # the worker rolls it up meanwhile
    for name, scope in scopes.items():
        seen[f"{name}: still counted once after the rollup"] = await redeemed_sms(scope) == before[name] + 1
    return seen


async def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    if args.database == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'tessera.db'}"
        target = str(workdir / "tessera.db")
    else:
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{PG_NAME}"')
        await admin.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_NAME}"
        target = f"postgresql://postgres@127.0.0.1:5432/{PG_NAME}"
    report: dict[str, Any] = {"database": args.database, "events": args.events, "campaigns": args.campaigns}
    try:
        upgrade(url)
        engine = create_engine(DatabaseSettings(url=url))
        sessions = session_factory(engine)
        key = await create_api_key(sessions, SystemClock(), "bench", "marketer")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        env.update(
            TESSERA_DATABASE_URL=url,
            TESSERA_DATA_DIR=str(workdir),
            TESSERA_LOG_LEVEL="WARNING",
            TESSERA_CODE_SECRET="bench-analytics-secret-0123456789abcdef",  # noqa: S106
        )
        with server(env, workdir / "seed.log") as base:
            world = await seed(base, key, args.campaigns)
        print(f"generating {args.events:,} events …", file=sys.stderr)
        coupons, redemptions, events = generate(world, args.events, rng)
        report["loaded"] = {"coupons": len(coupons), "events": len(events), "voids": len(redemptions)}
        report["loaded"]["redemptions"] = sum(1 for row in events if row[2] == "redeemed")
        started = time.perf_counter()
        if args.database == "sqlite":
            load_sqlite(target, coupons, redemptions, events)
        else:
            await load_postgres(target, coupons, redemptions, events)
        report["load_seconds"] = round(time.perf_counter() - started, 1)
        del coupons, redemptions, events
        print("rolling up …", file=sys.stderr)
        started = time.perf_counter()
        rolled = await Rollup(sessions, SystemClock(), settle_seconds=0, batches_per_run=10_000).run()
        seconds = time.perf_counter() - started
        report["rollup_catch_up"] = {
            "events": rolled,
            "seconds": round(seconds, 1),
            "per_s": round(rolled / seconds),
        }
        # The trigger follower, too, starts from where the migration left it: it catches up on
        # the loaded events here, as it would have kept up while they were written.
        started = time.perf_counter()
        follower = EventTriggers(
            sessions, sessions, SystemClock(), CodeKeys(env["TESSERA_CODE_SECRET"]), settle_seconds=0
        )
        followed = 0
        while moved := await follower.run():
            followed += moved
        seconds = time.perf_counter() - started
        report["trigger_follower_catch_up"] = {
            "events": followed,
            "seconds": round(seconds, 1),
            "per_s": round(followed / seconds) if seconds else None,
        }
        await engine.dispose()

        with server(env, workdir / "serve.log") as base:
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                campaigns, marketer, n = world.campaigns, world.marketer, args.requests

                def one() -> list[str]:
                    return [f"/api/analytics/channels?campaign_id={rng.choice(campaigns)}"]

                def page() -> list[str]:
                    chosen = rng.choice(campaigns)
                    return [
                        f"/api/campaigns/{chosen}",
                        f"/api/analytics/channels?campaign_id={chosen}",
                        f"/api/analytics/channels?campaign_id={chosen}&by=medium",
                        f"/api/analytics/daily?campaign_id={chosen}&tz=Europe%2FRome",
                        f"/api/analytics/stores?campaign_id={chosen}",
                    ]

                since = "since=2000-01-01T00:00:00Z"
                timed = {
                    "channels, one campaign": await time_requests(client, one, n, marketer),
                    "channels, all campaigns": await time_requests(
                        client, lambda: ["/api/analytics/channels"], n, marketer
                    ),
                    "dashboard campaign page": await time_requests(client, page, n, marketer),
                }
                baseline = await time_baseline(args.database, target, campaigns, n, rng)
                raw = {
                    "channels, one campaign, from the event log": await time_requests(
                        client, lambda: [f"{one()[0]}&{since}"], max(10, n // 10), marketer
                    ),
                    "channels, all campaigns, from the event log": await time_requests(
                        client, lambda: [f"/api/analytics/channels?{since}"], 5, marketer
                    ),
                }
                report["fresh"] = await freshness(client, world, campaigns[0])
        report["timed"] = timed
        report["baseline: bare driver, per-channel counts of one campaign"] = baseline
        report["without rollups"] = raw
        report["ratios p95 / baseline p95"] = {
            name: round(figures["p95_ms"] / baseline["p95_ms"], 2) for name, figures in timed.items()
        }
        report["target p95 < 50 ms"] = {
            name: figures["p95_ms"] < TARGET_P95_MS for name, figures in timed.items()
        }
    finally:
        if args.database == "postgres":
            admin = await asyncpg.connect(PG_ADMIN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
            await admin.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as workdir:
        print(json.dumps(asyncio.run(bench(args, Path(workdir))), indent=2))


if __name__ == "__main__":
    main()
