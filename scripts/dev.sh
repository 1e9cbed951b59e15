#!/usr/bin/env bash
# First README command: set everything up on a fresh machine and serve Tessera with demo data
# on SQLite at http://127.0.0.1:8000. Safe to run again (keeps the data, prints fresh credentials).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .

export TESSERA_DATA_DIR="${TESSERA_DATA_DIR:-var}"
host="${TESSERA_HOST:-127.0.0.1}"
port="${TESSERA_PORT:-8000}"
# Links in passes, e-mails and SMS (wallet links, unsubscribe) point at this server.
export TESSERA_PUBLIC_URL="${TESSERA_PUBLIC_URL:-http://$host:$port}"
.venv/bin/tessera migrate
.venv/bin/tessera demo
exec .venv/bin/tessera serve --host "$host" --port "$port"
