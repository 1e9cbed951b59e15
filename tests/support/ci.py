"""Whether this run is CI's: there, a test missing a part of the machine (PostgreSQL, Chromium,
Node.js) fails instead of skipping, so a CI run cannot pass by skipping."""

from __future__ import annotations

import os

IN_CI = os.environ.get("CI", "").lower() == "true"
