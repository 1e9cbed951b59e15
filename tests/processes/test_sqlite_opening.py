"""Connections that open a SQLite database at the same moment (a process starting: its engines,
the hot-path thread, the checkpointer) all get it configured, though SQLite refuses some of them
at once, without waiting, while another switches a fresh database to WAL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from tessera.core.db.engine import configure_sqlite_connection

OPENERS = 6
ROUNDS = 60


def test_connections_opening_together_are_all_configured(tmp_path: Path) -> None:
    failures: list[str] = []

    def open_and_read(path: Path, start: threading.Barrier) -> None:
        start.wait()
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            configure_sqlite_connection(connection)
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
            if mode != "wal":
                failures.append(f"journal mode {mode}")
            connection.execute("SELECT count(*) FROM t").fetchone()
        except sqlite3.Error as error:
            failures.append(str(error))
        finally:
            connection.close()

    for round_number in range(ROUNDS):
        path = tmp_path / f"fresh-{round_number}.db"
        with sqlite3.connect(path) as setup:
            setup.execute("CREATE TABLE t (x)")
        setup.close()
        start = threading.Barrier(OPENERS)
        openers = [threading.Thread(target=open_and_read, args=(path, start)) for _ in range(OPENERS)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()
    assert failures == []
