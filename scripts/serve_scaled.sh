#!/usr/bin/env bash
# Tessera on several processes and one PostgreSQL database:
#
#   TESSERA_DATABASE_URL=postgresql+asyncpg://user@host/db scripts/serve_scaled.sh [PROCESSES] [WORKERS]
#
# PROCESSES app processes (default 4) serve HTTP behind one port: `tessera serve --workers N`,
# whose uvicorn workers share the listening socket, with the embedded worker off. WORKERS
# `tessera worker` processes (default 1) do the background work: outbox deliveries (Web Push,
# APNs, Google Wallet), expiry notices and reminders, recorded expiries, analytics rollups and
# code batches a stopped process left unfinished. Every one of those jobs is safe in several
# processes at once (README, "Running several processes"), so WORKERS may be raised freely.
#
# Ctrl+C or SIGTERM stops them all; so does the end of any one of them, so that a supervisor
# (systemd, a container runtime) sees it and restarts the whole set.
set -euo pipefail
cd "$(dirname "$0")/.."

processes="${1:-4}"
workers="${2:-1}"
tessera="${TESSERA_COMMAND:-.venv/bin/tessera}"
case "${TESSERA_DATABASE_URL:-}" in
  postgresql*) ;;
  *)
    echo "serve_scaled.sh needs TESSERA_DATABASE_URL=postgresql+asyncpg://… (SQLite is a one-process store)" >&2
    exit 2
    ;;
esac
pool="${TESSERA_DATABASE_POOL_SIZE:-10}"
echo "Tessera: ${processes} app processes + ${workers} worker(s); up to $(((processes + workers) * 3 * pool))" \
  "PostgreSQL connections (3 × TESSERA_DATABASE_POOL_SIZE=${pool} each; keep below max_connections)"

export TESSERA_WORKER_EMBEDDED=false
# Brings the schema up to date and, in development, makes any missing secrets once, before the
# processes that share them start.
"$tessera" migrate

children=()
stopping=0
stop() {
  ((stopping)) && return
  stopping=1
  kill -TERM "${children[@]}" 2>/dev/null || true
  wait || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

for _ in $(seq "$workers"); do
  "$tessera" worker &
  children+=($!)
done
"$tessera" serve --workers "$processes" --host "${TESSERA_HOST:-127.0.0.1}" --port "${TESSERA_PORT:-8000}" &
children+=($!)

status=0
wait -n || status=$?
echo "a Tessera process ended (status ${status}); stopping the others" >&2
exit "$status"
