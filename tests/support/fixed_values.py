"""Values every test shares: the code secret of each test app and server process, and the moment
each test's frozen clock starts at."""

from __future__ import annotations

from datetime import UTC, datetime

TEST_SECRET = "tessera-test-secret-0123456789abcdefghijklmnop"
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
