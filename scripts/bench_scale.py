"""Redemptions/s on PostgreSQL with 1, 2 and 4 app processes, and the scaling ratio.

What is measured
    ``POST /api/redemptions`` served by N app processes of the real product plus one
    ``tessera worker`` process: the deployment ``scripts/serve_scaled.sh`` starts (uvicorn's
    workers sharing one listening socket, the command line ``tessera serve --workers N`` amounts
    to, with the embedded worker off), for each N of ``--processes`` (default 1,2,4).

    Seeding, load generation and the baseline are ``bench_redeem.py``'s, imported from it: the
    codes are seeded once through the real API, and every configuration then runs on its own
    copy of that database (``CREATE DATABASE … TEMPLATE``), dropped afterwards, with the same
    codes in the same order. The load generator is a separate process: ``--clients`` keep-alive
    connections, a warm-up, then ``--requests`` measured requests, each with a fresh code and its
    own ``Idempotency-Key``. The baseline, measured in the same run, is bench_redeem's bare
    asyncpg app (its handler runs only the conditional ``UPDATE … RETURNING``) at 1 process, or
    at each count of ``--baseline-processes``.

    Printed per configuration: requests/s, p50/p99 latency, the CPU of the app processes (and
    how it spread over them), of the worker, of all PostgreSQL processes and of the load
    generator. Then the scaling ratio (req/s with N processes ÷ req/s with 1) and the ratio to
    the baseline at 1 process. Figures are printed, never judged: where the machine has fewer
    cores than there are processes, the ratio tells how much they contend for the cores rather
    than how far Tessera scales.

How to run (from the repository root; needs PostgreSQL, see --pg-*)
    .venv/bin/python scripts/bench_scale.py                                # full size
    .venv/bin/python scripts/bench_scale.py --codes 20000 --requests 3000  # quick smoke run

    The databases ``tessera_scale_<pid>_*`` are created and dropped; every process and the
    temporary directory are removed at the end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_redeem import (
    Interrupted,
    Level,
    Processes,
    _clean_env,
    _on_sigterm,
    _pg_admin,
    count_redeemed,
    run_cli,
    run_load,
    seed,
    start_server,
)

SCRIPTS = Path(__file__).resolve().parent
PRODUCT_APP = "tessera.app:app_from_env"
BASELINE_APP = "bench_redeem:baseline_app"  # served from SCRIPTS


@dataclass
class Run:
    target: str  # product | baseline
    processes: int
    load: dict[str, Any] = field(default_factory=dict)
    redeemed_in_db: int = 0


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def start_worker(processes: Processes, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """One ``tessera worker`` process, returned once it runs."""
    process = processes.start([sys.executable, "-m", "tessera.cli", "worker"], env, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited; log:\n{log.read_text()[-3000:]}")
        if "Tessera worker running" in log.read_text():
            return process
        time.sleep(0.2)
    raise RuntimeError(f"worker did not start; log:\n{log.read_text()[-3000:]}")


def format_run(run: Run) -> str:
    load = run.load
    spread = load.get("server_processes_cpu_pct")
    app_cpu = f"{load['server_cpu_pct']:.0f}%" + (
        f" ({', '.join(f'{c:.0f}' for c in spread)})" if spread else ""
    )
    worker = f"{load['worker_cpu_pct']:.0f}%" if "worker_cpu_pct" in load else "-"
    line = (
        f"{run.processes:>9}  {run.target:<8}  {load['requests']:>8}  {load['rps']:>8.0f}  "
        f"{load['p50_ms']:>7.2f}  {load['p99_ms']:>7.2f}  {app_cpu:<22}  {worker:>6}  "
        f"{load['postgres_cpu_pct']:>7.0f}%  {load['client_cpu_pct']:>6.0f}%  "
        f"{load['server_cpu_ms_per_request']:>6.3f}  {load['backends_cpu_ms_per_request']:>6.3f}"
    )
    if load["non_201"] or load["warmup_non_201"]:
        line += f"  statuses {load['statuses']} (warm-up non-201: {load['warmup_non_201']})"
    if "timeline" in load:
        seconds = ", ".join(f"{n:.0f}/{worst:.0f}" for n, worst in load["timeline"])
        line += f"\n{'':>9}  per second (requests/worst ms): {seconds}"
    return line


HEADER = (
    f"{'processes':>9}  {'target':<8}  {'requests':>8}  {'req/s':>8}  {'p50 ms':>7}  {'p99 ms':>7}  "
    f"{'app CPU (per process)':<22}  {'worker':>6}  {'postgres':>8}  {'client':>7}  "
    f"{'app ms/req':>6}  {'db ms/req':>6}"
)


def summarise(runs: list[Run]) -> dict[str, Any]:
    product = {run.processes: run.load["rps"] for run in runs if run.target == "product"}
    baseline = {run.processes: run.load["rps"] for run in runs if run.target == "baseline"}
    one = product.get(1)
    base = baseline.get(1)
    return {
        "product_rps": product,
        "baseline_rps": baseline,
        "scaling": {n: round(rps / one, 2) for n, rps in product.items()} if one else {},
        "to_baseline_at_1": {n: round(rps / base, 2) for n, rps in product.items()} if base else {},
    }


def bench(args: argparse.Namespace, level: Level, emit: Any) -> list[Run]:
    secret = secrets.token_urlsafe(36)
    processes = Processes()
    workdir = Path(tempfile.mkdtemp(prefix="tessera-bench-scale-", dir=args.tmp_dir))
    pg_server = f"postgresql://{args.pg_server}"
    admin_dsn = f"{pg_server}/{args.pg_admin_db}"
    prefix = f"tessera_scale_{os.getpid()}"
    seed_db = f"{prefix}_seed"
    created: list[str] = []

    def product_env(database: str) -> dict[str, str]:
        return _clean_env(
            {
                "TESSERA_DATA_DIR": str(workdir / "data"),
                "TESSERA_DATABASE_URL": f"postgresql+asyncpg://{args.pg_server}/{database}",
                "TESSERA_DATABASE_POOL_SIZE": str(args.pool_size),
                "TESSERA_CODE_SECRET": secret,
                "TESSERA_LOG_LEVEL": "WARNING",
                "TESSERA_WORKER_EMBEDDED": "false",
            }
        )

    runs: list[Run] = []
    try:
        asyncio.run(_pg_admin(admin_dsn, f"CREATE DATABASE {seed_db}"))
        created.append(seed_db)
        env = product_env(seed_db)
        emit(f"migrating and seeding {args.codes:,} codes through the API in {workdir} …")
        run_cli(["migrate"], env)
        marketer_key = run_cli(["keys", "create", "--role", "marketer"], env).strip().splitlines()[-1]
        seeder = start_server(processes, "seed", PRODUCT_APP, env, workdir)
        wanted = level.warmup + level.requests
        seeded = seed(seeder, args.codes, wanted, random.Random(args.seed), marketer_key)
        processes.stop(seeder.process)
        emit(f"{args.codes:,} codes generated in {seeded.generate_s:.1f} s; {wanted:,} sampled for each run")
        (workdir / "codes.txt").write_text("\n".join(seeded.codes) + "\n")
        asyncio.run(_pg_admin(f"{pg_server}/{seed_db}", "VACUUM ANALYZE"))
        emit(HEADER)

        plan = [("baseline", n) for n in _ints(args.baseline_processes)]
        plan += [("product", n) for n in _ints(args.processes)]
        for target, count in plan:
            database = f"{prefix}_{target}_{count}"
            asyncio.run(_pg_admin(admin_dsn, f"CREATE DATABASE {database} TEMPLATE {seed_db}"))
            created.append(database)
            name = f"{target}-{count}"
            others: dict[str, int] = {}
            if target == "baseline":
                baseline_env = _clean_env(
                    {
                        "BENCH_BASELINE_DB": "postgres",
                        "BENCH_BASELINE_TARGET": f"{pg_server}/{database}",
                        "BENCH_BASELINE_POOL_SIZE": str(args.pool_size),
                        "TESSERA_CODE_SECRET": secret,
                    }
                )
                server = start_server(
                    processes,
                    name,
                    BASELINE_APP,
                    baseline_env,
                    workdir,
                    "--app-dir",
                    str(SCRIPTS),
                    workers=count,
                )
                started = [server.process]
            else:
                env = product_env(database)
                worker = start_worker(processes, env, workdir / f"worker-{count}.log")
                others["worker"] = worker.pid
                server = start_server(processes, name, PRODUCT_APP, env, workdir, workers=count)
                started = [server.process, worker]
            run = Run(target, count)
            run.load = run_load(
                processes, workdir, server, seeded.token, 0, level, True, args.timeline, others, database
            )
            for process in started:
                processes.stop(process)
            run.redeemed_in_db = count_redeemed("postgres", f"{pg_server}/{database}")
            asyncio.run(_pg_admin(admin_dsn, f"DROP DATABASE {database} WITH (FORCE)"))
            created.remove(database)
            runs.append(run)
            emit(format_run(run))
        return runs
    finally:
        processes.stop_all()
        if created:
            with contextlib.suppress(Exception):
                asyncio.run(
                    _pg_admin(
                        admin_dsn, *(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)" for name in created)
                    )
                )
        if args.keep_temp:
            emit(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--processes", default="1,2,4", help="app process counts to measure, comma-separated")
    parser.add_argument(
        "--baseline-processes", default="1", help="process counts of the bare asyncpg baseline"
    )
    parser.add_argument("--codes", type=int, default=1_000_000, help="live codes seeded (max 1,000,000)")
    parser.add_argument("--requests", type=int, default=20_000, help="measured requests per configuration")
    parser.add_argument("--clients", type=int, default=64, help="concurrent keep-alive connections")
    parser.add_argument(
        "--warmup", type=float, default=0.1, help="warm-up requests as a fraction of the measured ones"
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=10,
        help="TESSERA_DATABASE_POOL_SIZE of each process (and the baseline's)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for sampling codes")
    parser.add_argument("--pg-server", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--pg-admin-db", default="test", help="database to connect to for CREATE DATABASE")
    parser.add_argument("--timeline", action="store_true", help="also print requests per second of each run")
    parser.add_argument("--tmp-dir", default=None, help="where the temporary files go")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary directory (logs)")
    parser.add_argument("--json", action="store_true", help="print all figures as one JSON object at the end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    level = Level(args.clients, args.requests, max(args.clients, round(args.requests * args.warmup)))
    wanted = level.warmup + level.requests
    if not wanted <= args.codes <= 1_000_000:
        raise SystemExit(f"--codes must be between the {wanted:,} codes a run needs and 1,000,000")
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def emit(text: str) -> None:
        print(text, flush=True)

    emit(
        f"Tessera scale-out benchmark on PostgreSQL: {args.codes:,} live codes; {args.clients} clients, "
        f"{args.requests:,} measured requests per run; app processes {args.processes} (+ 1 worker "
        f"process), baseline processes {args.baseline_processes}; {os.cpu_count()} CPUs"
    )
    try:
        runs = bench(args, level, emit)
    except (KeyboardInterrupt, Interrupted):
        emit("interrupted; cleaned up")
        return 130
    summary = summarise(runs)
    if summary["scaling"]:
        emit(
            "scaling (req/s with N processes / with 1): "
            + ", ".join(f"{n} -> x{ratio:.2f}" for n, ratio in summary["scaling"].items())
        )
    if summary["to_baseline_at_1"]:
        emit(
            "product / bare asyncpg baseline at 1 process: "
            + ", ".join(f"{n} -> {ratio:.2f}" for n, ratio in summary["to_baseline_at_1"].items())
        )
    for run in runs:
        measured = run.load["statuses"].get("201", 0)
        if run.redeemed_in_db != measured + level.warmup - run.load["warmup_non_201"]:
            emit(
                f"note: {run.target} at {run.processes}: {run.redeemed_in_db:,} coupons redeemed in the "
                f"database for {measured:,} measured 201s and {level.warmup:,} warm-up requests"
            )
    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "scale",
                    "cpus": os.cpu_count(),
                    "codes": args.codes,
                    "clients": args.clients,
                    "runs": [
                        {
                            "target": r.target,
                            "processes": r.processes,
                            "redeemed_in_db": r.redeemed_in_db,
                            **r.load,
                        }
                        for r in runs
                    ],
                    **summary,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
