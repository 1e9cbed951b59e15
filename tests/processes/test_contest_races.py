"""Contest entries racing through real server processes (two on one PostgreSQL database, one on
SQLite): every code counts once, the leaderboard is exact, the draw of that contest recomputes
from its public record (also with ``scripts/verify_draw.py``), and instant wins stop at their
winner count and at their budget while more winning codes arrive than the caps allow."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from sqlalchemy import text

from tessera.core.db.engine import create_engine
from tessera.core.settings import DatabaseSettings, Settings
from tests.support.contests import recompute_winners
from tests.support.fixed_values import TEST_SECRET
from tests.support.races import Answer, answered, marketer_key
from tests.support.servers import REPOSITORY, running_servers, server_env

pytestmark = pytest.mark.slow
Headers = dict[str, str]
_unique = itertools.count(1)


def processes_for(settings: Settings) -> int:
    return 1 if settings.database.is_sqlite else 2


def environment(settings: Settings, data_dir: Path) -> dict[str, str]:
    return {
        **server_env(settings.database.url, data_dir, TEST_SECRET),
        "TESSERA_REGISTRATIONS_PER_ADDRESS": "1000",
    }


def created(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def new_contest(client: httpx.AsyncClient, marketer: Headers, **body: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return created(  # type: ignore[no-any-return]
        await client.post(
            "/api/contests",
            json={
                "name": f"Race {next(_unique)}",
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(days=1)).isoformat(),
                **body,
            },
            headers=marketer,
        )
    )


async def codes_of(
    client: httpx.AsyncClient, marketer: Headers, contest_id: int, count: int, **batch: Any
) -> list[dict[str, str]]:
    started = created(
        await client.post(
            f"/api/contests/{contest_id}/codes", json={"count": count, **batch}, headers=marketer
        ),
        202,
    )
    for _ in range(600):
        if (await client.get(started["progress_url"], headers=marketer)).json()["status"] == "done":
            break
        await asyncio.sleep(0.05)
    export = await client.get(started["export_url"], headers=marketer)
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == count, export.text[:300]
    return rows


async def customers(client: httpx.AsyncClient, count: int) -> list[tuple[int, Headers]]:
    tag = next(_unique)
    found = []
    for number in range(count):
        registered = created(
            await client.post(
                "/api/customers",
                json={
                    "email": f"race{tag}-{number}@example.com",
                    "consent": {"terms": True, "marketing": True},
                },
            )
        )
        found.append((registered["id"], {"Authorization": f"Bearer {registered['token']}"}))
    return found


async def fire_entries(
    urls: list[str], contest_id: int, requests: Sequence[tuple[str, Headers]], *, in_flight: int
) -> list[Answer]:
    """POST every ``(code, customer)`` entry once, request ``i`` to server ``i % len(urls)``, with
    ``in_flight`` under way at any moment (neighbours in the list race each other)."""
    share = -(-in_flight // len(urls))
    sessions = [
        aiohttp.ClientSession(
            base_url=url, connector=aiohttp.TCPConnector(limit=share), timeout=aiohttp.ClientTimeout(total=60)
        )
        for url in urls
    ]
    slots = asyncio.Semaphore(in_flight)
    path = f"/api/contests/{contest_id}/entries"

    async def call(session: aiohttp.ClientSession, code: str, customer: Headers) -> Answer:
        async with slots, session.post(path, json={"code": code}, headers=customer) as response:
            return Answer(response.status, await response.read())

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(call(sessions[i % len(sessions)], code, customer))
                for i, (code, customer) in enumerate(requests)
            ]
    finally:
        for session in sessions:
            await session.close()
    return [task.result() for task in tasks]


def verify_draw(record: str) -> subprocess.CompletedProcess[str]:
    """``scripts/verify_draw.py`` run as anyone would run it, on a URL or a saved record."""
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / "verify_draw.py"), record],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def stored(database: DatabaseSettings, contest_id: int) -> dict[str, Any]:
    contest_of_event = (
        "json_extract(data, '$.contest_id')"
        if database.is_sqlite
        else "CAST(data ->> 'contest_id' AS INTEGER)"
    )
    queries = {
        "entry rows": "SELECT count(*) FROM contest_entries WHERE contest_id = :c",
        "codes entered twice": (
            "SELECT count(*) FROM (SELECT code_id FROM contest_entries WHERE contest_id = :c "
            "GROUP BY code_id HAVING count(*) > 1) AS twice"
        ),
        "codes marked entered": (
            "SELECT count(*) FROM contest_codes WHERE contest_id = :c AND submitted_at IS NOT NULL"
        ),
        "entry events": (
            f"SELECT count(*) FROM events WHERE type = 'contest_entry' AND {contest_of_event} = :c"  # noqa: S608
        ),
        "entries counted on participants": (
            "SELECT sum(entries) FROM contest_participants WHERE contest_id = :c"
        ),
        "winning entries": (
            "SELECT count(*) FROM contest_entries WHERE contest_id = :c AND prize_id IS NOT NULL"
        ),
    }
    engine = create_engine(database)
    try:
        async with engine.connect() as connection:
            return {
                name: (await connection.execute(text(sql), {"c": contest_id})).scalar()
                for name, sql in queries.items()
            }
    finally:
        await engine.dispose()


async def test_leaderboard_is_exact_after_concurrent_entries_and_the_draw_recomputes(
    settings: Settings, tmp_path: Path
) -> None:
    marketer = {"Authorization": f"Bearer {await marketer_key(settings.database)}"}
    with running_servers(processes_for(settings), environment(settings, tmp_path)) as urls:
        async with httpx.AsyncClient(base_url=urls[0], timeout=60) as client:
            contest = await new_contest(
                client,
                marketer,
                kind="points",
                prizes=[{"name": "Bike", "count": 1}, {"name": "Speaker", "count": 2}],
                consolation=[{"name": "Cap", "count": 5}],
            )
            rows = await codes_of(client, marketer, contest["id"], 100, product="Cola", points=3)
            rows += await codes_of(client, marketer, contest["id"], 100, product="Crisps", points=5)
            people = await customers(client, 20)
            points_of = {row["code"]: int(row["points"]) for row in rows}
            # Customer i owns codes 10i .. 10i + 9 and sends each twice; customer i + 1 sends it once.
            requests = []
            sender = []
            for index, row in enumerate(rows):
                owner, neighbour = index // 10, (index // 10 + 1) % 20
                for who in (owner, owner, neighbour):
                    requests.append((row["code"], people[who][1]))
                    sender.append(who)
            answers = await fire_entries(urls, contest["id"], requests, in_flight=64)

            expected: dict[int, int] = defaultdict(int)
            totals: dict[int, list[int]] = defaultdict(list)
            for (code, _), who, answer in zip(requests, sender, answers, strict=True):
                if answer.status == 201:
                    body = json.loads(answer.body)
                    expected[who] += points_of[code]
                    totals[who].append(body["total_points"])
            board = created(await client.get(f"/api/contests/{contest['id']}/leaderboard?limit=100"), 200)
            shown: dict[int, int] = {}
            for who, (_, headers) in enumerate(people):
                me = created(
                    await client.get(f"/api/contests/{contest['id']}/leaderboard", headers=headers), 200
                )
                if me["me"] is not None:
                    shown[who] = me["me"]["points"]
            by_alias = {leader["participant_id"]: leader["points"] for leader in board["leaders"]}
            observed = {
                **answered(answers),
                **await stored(settings.database, contest["id"]),
                "points per customer": dict(sorted(shown.items())),
                "participants": board["participants"],
                "points on the board": sum(by_alias.values()),
                "board in order": [leader["points"] for leader in board["leaders"]]
                == sorted(by_alias.values(), reverse=True),
                "customers whose answers skipped or repeated a total": [
                    who
                    for who, seen in totals.items()
                    if len(set(seen)) != len(seen) or max(seen) != expected[who]
                ],
            }
            allowed = {
                "answers": {201: 200, 409: 400},
                "server errors": [],
                "entry rows": 200,
                "codes entered twice": 0,
                "codes marked entered": 200,
                "entry events": 200,
                "entries counted on participants": 200,
                "winning entries": 0,
                "points per customer": dict(sorted(expected.items())),
                "participants": len(expected),
                "points on the board": 100 * 3 + 100 * 5,
                "board in order": True,
                "customers whose answers skipped or repeated a total": [],
            }
            assert {k: v for k, v in observed.items() if allowed[k] != v} == {}, allowed

            # The draw: close, draw, and recompute it from the public record.
            created(await client.post(f"/api/contests/{contest['id']}/close", headers=marketer), 200)
            drawn = created(await client.post(f"/api/contests/{contest['id']}/draw", headers=marketer), 200)
            record = created(await client.get(f"/api/contests/{contest['id']}/draw"), 200)
            assert record == drawn
            assert record["commitment"] == contest["commitment"]
            assert [
                (w["id"], w["tier"], w["place"], w["prize"]) for w in record["winners"]
            ] == recompute_winners(record)
            assert {p["id"]: p["points"] for p in record["participants"]} == by_alias
            url = f"{urls[-1]}/api/contests/{contest['id']}/draw"
        verified = await asyncio.to_thread(verify_draw, url)
        assert verified.returncode == 0, verified.stderr
        assert "OK" in verified.stdout
        assert all(winner["id"] in verified.stdout for winner in record["winners"])
    # The script fails a record whose list was changed after the draw.
    tampered = dict(record, participants=[dict(p) for p in record["participants"]])
    tampered["participants"][-1]["points"] += 1000
    saved = tmp_path / "tampered.json"
    saved.write_text(json.dumps(tampered))
    refused = await asyncio.to_thread(verify_draw, str(saved))
    assert refused.returncode == 1
    assert "MISMATCH" in refused.stderr


async def instant_race(
    urls: list[str],
    client: httpx.AsyncClient,
    marketer: Headers,
    people: list[tuple[int, Headers]],
    **caps: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """200 codes of which 80 win (60 worth 100, 20 worth 1000); each code sent by two customers at once."""
    contest = await new_contest(
        client,
        marketer,
        kind="instant_win",
        pool_size=200,
        prizes=[{"name": "Coffee", "count": 60, "value": 100}, {"name": "Lunch", "count": 20, "value": 1000}],
        **caps,
    )
    rows = await codes_of(client, marketer, contest["id"], 200)
    requests = [
        (row["code"], people[(2 * i + k) % len(people)][1]) for i, row in enumerate(rows) for k in (0, 1)
    ]
    answers = await fire_entries(urls, contest["id"], requests, in_flight=len(people))
    bodies = [json.loads(answer.body) for answer in answers if answer.status == 201]
    report = created(await client.get(f"/api/contests/{contest['id']}/report", headers=marketer), 200)
    return answered(answers), bodies, report


async def test_instant_win_stops_at_its_caps_under_32_concurrent_submitters(
    settings: Settings, tmp_path: Path
) -> None:
    marketer = {"Authorization": f"Bearer {await marketer_key(settings.database)}"}
    with running_servers(processes_for(settings), environment(settings, tmp_path)) as urls:
        async with httpx.AsyncClient(base_url=urls[0], timeout=60) as client:
            people = await customers(client, 32)
            results = {}
            for name, caps in (("winner count", {"max_winners": 25}), ("budget", {"budget": 5000})):
                statuses, bodies, report = await instant_race(urls, client, marketer, people, **caps)
                wins = [body for body in bodies if body["result"] == "win"]
                won = Counter(body["prize"]["name"] for body in wins)
                results[name] = {
                    **statuses,
                    "wins answered": len(wins),
                    "value answered": sum(body["prize"]["value"] for body in wins),
                    "wins counted": report["wins"],
                    "value counted": report["spent"],
                    "prizes counted": {p["name"]: p["won"] for p in report["prizes"]},
                    "prizes answered": {"Coffee": won["Coffee"], "Lunch": won["Lunch"]},
                    **await stored(settings.database, report["contest"]["id"]),
                }
    common = {
        "answers": {201: 200, 409: 200},
        "server errors": [],
        "entry rows": 200,
        "codes entered twice": 0,
    }
    by_count, by_budget = results["winner count"], results["budget"]
    assert {k: by_count[k] for k in common} == common
    assert {k: by_budget[k] for k in common} == common
    # 80 winning codes arrived; 25 win.
    assert by_count["wins answered"] == by_count["wins counted"] == by_count["winning entries"] == 25
    assert by_count["value answered"] == by_count["value counted"]
    assert by_count["prizes answered"] == by_count["prizes counted"]
    # 26,000 worth of winning codes arrived; the budget of 5,000 is spent to the last 100 (a
    # Coffee was refused once the budget was within 100 of its end, and every prize is a
    # multiple of 100).
    assert by_budget["value answered"] == by_budget["value counted"] == 5000
    assert by_budget["wins answered"] == by_budget["wins counted"] == by_budget["winning entries"]
    assert by_budget["prizes answered"] == by_budget["prizes counted"]
