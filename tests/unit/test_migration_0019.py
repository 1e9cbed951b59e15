"""Migration 0019 adds to the rollups the contest entries and inbound SMS they already moved past
(the analytics count those types now), exactly as the rollup job would have, and no others."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from tessera.assembly.migrate import downgrade, upgrade

AT = "2026-06-01 10:00:00.000000"
EVENTS = [
    # (type, campaign_id, channel, medium, store_id)
    ("contest_entry", None, None, "manual", None),
    ("sms_received", None, "sms", None, None),
    ("sms_received", None, "sms", None, None),
    ("issued", 7, "sms", None, None),
    ("sms_received", None, "sms", None, None),  # after the watermark: readers fold it in
]


def totals(database: Path) -> set[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(
            "SELECT scope, dimension, key, type, events, quantity FROM analytics_totals"
        ).fetchall()
    return {tuple(row) for row in rows}


def test_the_rolled_up_contacts_are_added_to_the_totals_once(tmp_path: Path) -> None:
    database = tmp_path / "tessera.db"
    url = f"sqlite+aiosqlite:///{database}"
    upgrade(url, "0017")
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.executemany(
            "INSERT INTO events (occurred_at, type, campaign_id, channel, medium, store_id, quantity) "
            "VALUES (?, ?, ?, ?, ?, ?, 1)",
            [(AT, *event) for event in EVENTS],
        )
        connection.execute(
            "INSERT INTO analytics_state (id, rolled_up_to, candidate_id, candidate_xid, candidate_at) "
            "VALUES (1, 4, 5, 0, ?) ON CONFLICT (id) DO UPDATE SET rolled_up_to = 4, candidate_id = 5",
            (AT,),
        )
        # What the rollup job had written for the types it counted then.
        connection.executemany(
            "INSERT INTO analytics_totals (scope, dimension, key, type, events, quantity, firsts, amount, "
            "discount) VALUES (?, ?, ?, 'issued', 1, 1, 0, 0, 0)",
            [(7, "channel", "sms"), (0, "channel", "sms"), (0, "campaign", "7")],
        )
    before = totals(database)
    upgrade(url)
    assert totals(database) - before == {
        (0, "medium", "manual", "contest_entry", 1, 1),
        (0, "channel", "sms", "sms_received", 2, 2),
    }
    assert before <= totals(database)
    downgrade(url, "0017")
    assert totals(database) == before
