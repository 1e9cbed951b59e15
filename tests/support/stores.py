"""Which stores a test runs on. Tests that build an app run once on SQLite and once on PostgreSQL
(the ``database_url`` fixture is parametrized over both); a test of something no store takes part
in — the OpenAPI document, the static files, a request refused before any handler runs — is
marked ``@store_independent`` and runs once, on SQLite."""

from __future__ import annotations

import pytest

store_independent = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
