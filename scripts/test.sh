#!/usr/bin/env bash
# Second README command: install what the tests need and run the whole suite — lint, types and
# tests on SQLite and PostgreSQL. With CI=true a missing PostgreSQL fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

# PostgreSQL: the suite needs a server on 127.0.0.1:5432 (trust auth). Start the local one if
# the machine has it installed but stopped.
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  fi
fi

# System tools the tests need: OpenSSL (pass signatures), Node.js (passkit-generator's pass.json
# schemas, pinned in tests/js/package-lock.json) and Debian's Chromium (browser tests).
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Headless Chromium for the PWA tests (driven by Python playwright; never downloaded by it).
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

echo "== ruff"
.venv/bin/ruff check backend tests scripts
.venv/bin/ruff format --check backend tests scripts
echo "== mypy --strict (backend)"
.venv/bin/mypy
echo "== import layers (pyproject.toml, [tool.importlinter])"
.venv/bin/lint-imports
echo "== pytest"
# One worker per core (at most four: each holds its own PostgreSQL database and connections).
.venv/bin/pytest -p no:cacheprovider -n auto --maxprocesses=4 --dist worksteal --durations=25 "$@"
