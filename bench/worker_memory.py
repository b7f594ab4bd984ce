"""Peak memory of a queue worker on its heaviest routine job at scale: the applications workbook
of the largest call.

Usage (after bench/seed.py built FOLDER): .venv/bin/python bench/worker_memory.py --folder F
    [--database-url URL]

Starts ``flask jobs worker --workers 1`` (its queue a SQLite file in FOLDER), lets the city
administrator ask for the workbook of every entry of the largest call (as the call page does
beyond EXPORT_INLINE_LIMIT), waits until the job is done, and reads the peak resident memory
(VmHWM) of each process of the worker (the huey consumer and its one worker process), sampled
every 50 ms, plus the workbook's size and the seconds it took. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    found, frontier = [pid], [pid]
    while frontier:
        children = subprocess.run(["pgrep", "-P", str(frontier.pop())], capture_output=True,
                                  text=True).stdout.split()
        found += [int(c) for c in children]
        frontier += [int(c) for c in children]
    return found


def peak_mb(pid: int) -> float:
    """VmHWM of a process in MB (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{args.folder / 'pingshen.db'}"
    queue_file = args.folder / "worker-jobs.db"
    queue_file.unlink(missing_ok=True)
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-secret",
               UPLOAD_FOLDER=str(args.folder / "uploads"),
               CERTIFICATE_FOLDER=str(args.folder / "certificates"),
               EXPORT_FOLDER=str(args.folder / "exports"),
               IMPORT_FOLDER=str(args.folder / "imports"),
               JOB_QUEUE_URL=f"sqlite:///{queue_file}", SECURITY_LOG="", FLASK_APP="wsgi.py")
    os.environ.update(env)
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.models import Application, Call, Job, User
    from app.services.applications import EntryFilter
    from app.services.export_jobs import start_applications_job

    app = create_app()
    flask = str(Path(sys.executable).parent / "flask")
    worker = subprocess.Popen([flask, "jobs", "worker", "--workers", "1"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        time.sleep(3)  # the worker has imported the app and waits
        with app.app_context():
            call_id, entries = db.session.execute(
                select(Application.call_id, func.count()).group_by(Application.call_id)
                .order_by(func.count().desc()).limit(1)).one()
            city = db.session.scalars(select(User).where(User.username == "city")).one()
            record = start_applications_job(db.session.get_one(Call, call_id), city,
                                             EntryFilter())
            db.session.commit()
            job_id = record.id
        start, peaks = time.perf_counter(), {}
        while True:
            for pid in tree(worker.pid):
                peaks[pid] = max(peaks.get(pid, 0.0), peak_mb(pid))
            with app.app_context():
                status = db.session.get_one(Job, job_id).status
            if status in ("done", "failed"):
                break
            if time.perf_counter() - start > 900:
                raise SystemExit("the export job did not finish within 15 minutes")
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        for pid in tree(worker.pid):
            peaks[pid] = max(peaks.get(pid, 0.0), peak_mb(pid))
    finally:
        os.killpg(worker.pid, signal.SIGINT)
        worker.wait(timeout=60)
    files = list((args.folder / "exports" / "applications").glob("*.xlsx"))
    print(json.dumps({"job": "applications workbook", "status": status, "entries": entries,
                      "seconds": round(seconds, 1),
                      "workbook_kb": round(max(f.stat().st_size for f in files) / 1024, 1)
                      if files else None,
                      "worker_peak_rss_mb": sorted(round(p, 1) for p in peaks.values()),
                      "worker_peak_rss_max_mb": round(max(peaks.values()), 1)}))


if __name__ == "__main__":
    main()
