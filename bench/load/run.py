"""The load test end to end: a fresh instance, gunicorn and the job worker on loopback, 50 users
for 5 minutes, then the check that the database holds exactly what was acknowledged.

Usage: .venv/bin/python bench/load/run.py [--users 50] [--minutes 5] [--workers 4]
       (`make load`; LOAD_DATABASE_URL=postgresql+psycopg://... for PostgreSQL — a throwaway
       database: its public schema is dropped; SQLite in the fresh instance folder otherwise)

Setup (not timed): `flask db upgrade`, `flask workflows sync`, `flask demo load`, then
bench/load/setup.py. Server: `gunicorn -w WORKERS` on 127.0.0.1 behind one trusted proxy
(PROXY_COUNT=1: each simulated person sends its own X-Forwarded-For, as nginx would) and
`flask jobs worker` beside it. Load: Locust, headless (bench/load/locustfile.py). Then
bench/load/check.py. Prints a table per request kind (requests, p50/p95/p99 ms), the checks,
the machine's load average during the run, and the figures as JSON on the last line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
PORT = int(os.environ.get("LOAD_PORT", 8711))


def main() -> int:
    """Set up, serve, load, check; 0 when every check holds."""
    args = _arguments()
    folder = Path(os.environ.get("LOAD_INSTANCE") or tempfile.mkdtemp(prefix="pingshen-load-"))
    env = _environment(folder)
    database = "postgresql" if env["DATABASE_URL"].startswith("postgresql") else "sqlite"
    print(f"load test: {database}, instance {folder}", flush=True)
    if database == "postgresql":
        _empty_postgres(env)
    for command in (["db", "upgrade"], ["workflows", "sync"], ["demo", "load"]):
        subprocess.run([str(BIN / "flask"), *command], env=env, cwd=ROOT, check=True,
                       capture_output=True)
    plan, ledger = folder / "plan.json", folder / "ledger.json"
    subprocess.run([sys.executable, str(HERE / "setup.py"), str(plan)], env=env, cwd=ROOT,
                   check=True)
    server = _start([str(BIN / "gunicorn"), "-w", str(args.workers), "-b", f"127.0.0.1:{PORT}",
                     "--access-logfile", str(folder / "access.log"), "wsgi:app"],
                    env, folder / "gunicorn.log")
    worker = _start([str(BIN / "flask"), "jobs", "worker"], env, folder / "worker.log")
    try:
        _wait_for(f"http://127.0.0.1:{PORT}/login")
        loads = _sample_load()
        started = time.time()
        subprocess.run([str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless",
                        "-u", str(args.users), "-r", "1", "-t", f"{round(args.minutes * 60)}s",
                        "--host", f"http://127.0.0.1:{PORT}", "--csv", str(folder / "locust"),
                        "--only-summary", "--stop-timeout", "30"],
                       env={**env, "LOAD_PLAN": str(plan), "LOAD_LEDGER": str(ledger)},
                       cwd=folder, check=False)
        seconds = time.time() - started
        loads.stop.set()
        cpu = _cpu_seconds(server.pid)
    finally:
        for process in (server, worker):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    check = subprocess.run([sys.executable, str(HERE / "check.py"), str(plan), str(ledger)],
                           env=env, cwd=ROOT, capture_output=True, text=True)
    print(check.stdout, check.stderr, sep="", end="")
    summary = _summary(folder, database, args, seconds, loads.samples,
                       json.loads(check.stdout.strip().splitlines()[-1]))
    summary["server_cpu_ms_per_request"] = round(cpu * 1000 / max(summary["requests"], 1))
    (folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1))
    print(json.dumps(summary, ensure_ascii=False))
    return check.returncode


def _arguments() -> argparse.Namespace:
    """Users, minutes and gunicorn workers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--workers", type=int, default=4)
    return parser.parse_args()


def _environment(folder: Path) -> dict[str, str]:
    """The server's environment: the fresh instance, its database and job queue."""
    return {**os.environ, "FLASK_APP": "wsgi.py", "PINGSHEN_INSTANCE": str(folder),
            "DATABASE_URL": os.environ.get("LOAD_DATABASE_URL")
            or f"sqlite:///{folder / 'pingshen.db'}",
            "JOB_QUEUE_URL": f"sqlite:///{folder / 'jobs.db'}", "PROXY_COUNT": "1"}


def _empty_postgres(env: dict[str, str]) -> None:
    """Drop and recreate the public schema of the throwaway PostgreSQL database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(env["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process in its own group, its output to `log`."""
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(url: str, seconds: float = 120) -> None:
    """Wait until the server answers."""
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10):
                return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(1)


def _cpu_seconds(master: int) -> float:
    """CPU time (user + system) the gunicorn master and its workers have used so far: what the
    requests cost, whatever else the machine was doing meanwhile."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(stat.parent.name) == master or int(fields[1]) == master:
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


class _LoadSampler(threading.Thread):
    """The machine's 1-minute load average every 10 s while the load runs."""

    def __init__(self) -> None:
        """Start sampling at once."""
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.samples: list[float] = []

    def run(self) -> None:
        """Sample until stopped."""
        while not self.stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self.stop.wait(10)


def _sample_load() -> _LoadSampler:
    """A running sampler."""
    sampler = _LoadSampler()
    sampler.start()
    return sampler


def _summary(folder: Path, database: str, args: argparse.Namespace, seconds: float,
             loads: list[float], check: dict[str, Any]) -> dict[str, Any]:
    """Per request kind: requests, failures, p50/p95/p99 (ms); totals; load; the check."""
    kinds = {}
    with (folder / "locust_stats.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            kinds[row["Name"]] = {"requests": int(row["Request Count"]),
                                  "rps": round(int(row["Request Count"]) / seconds, 2),
                                  "failures": int(row["Failure Count"]),
                                  "p50": int(float(row["50%"])), "p95": int(float(row["95%"])),
                                  "p99": int(float(row["99%"]))}
    total = kinds.pop("Aggregated")
    print(f"\n{'kind':40} {'requests':>8} {'fail':>5} {'p50':>7} {'p95':>7} {'p99':>7}")
    for name, row in sorted(kinds.items()):
        print(f"{name:40} {row['requests']:8} {row['failures']:5} {row['p50']:7} "
              f"{row['p95']:7} {row['p99']:7}")
    print(f"{'all':40} {total['requests']:8} {total['failures']:5} {total['p50']:7} "
          f"{total['p95']:7} {total['p99']:7}")
    return {"database": database, "users": args.users, "minutes": args.minutes,
            "gunicorn_workers": args.workers, "seconds": round(seconds),
            "requests": total["requests"], "rps": round(total["requests"] / seconds, 2),
            "p50_ms": total["p50"], "p95_ms": total["p95"], "p99_ms": total["p99"],
            "failures": total["failures"], "kinds": kinds,
            "load_average": {"min": min(loads), "mean": round(sum(loads) / len(loads), 1),
                             "max": max(loads)} if loads else {},
            "checks": check["checks"], "failed_checks": check["failed"],
            "acked": check["acked"], "server_errors": check["server_errors"]}


if __name__ == "__main__":
    sys.exit(main())
