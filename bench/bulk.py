"""A bulk transition and a ranking over one large call, each against its floor in the same run.

Usage:
    .venv/bin/python bench/bulk.py --entries 10000 --folder /tmp/pingshen-bulk
        [--database-url postgresql+psycopg://...]   (a throwaway database: its schema is dropped)

Seeds one province-wide excellent_team call (bench/seed.py --one-call: every entry in city
review with five submitted sheets), then measures, each in a fresh app context:
- ranking: ``rank_call`` (the trimmed-mean aggregation of every sheet, weights, tie-breaks), the
  median of 3 runs after a warm-up, against the floor: one SQL ``GROUP BY`` average of the
  submitted sheets' totals per entry of the call, fetched, median of 3;
- the bulk transition ``publish_notice`` (guard: every sheet submitted) on every entry: the
  dry run the page shows first, then the real run, against the floor: one set-based UPDATE of the
  entries' state and version plus one bulk INSERT of their audit rows, committed (and then
  undone, untimed, before the real run);
- afterwards, that every entry moved once: the state of each, one audit row each with the bulk id.
Peak Python memory of the real run is traced (tracemalloc) separately when --trace is given.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from sqlalchemy import delete, func, insert, select, update  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models import Application, AuditEntry, Call, ReviewAssignment, User  # noqa: E402
from app.models.base import utcnow  # noqa: E402
from app.services.bulk import bulk_fire  # noqa: E402
from app.services.ranking import rank_call  # noqa: E402
from bench.seed import fresh_instance, seed  # noqa: E402

TRIGGER, SOURCE, DEST = "publish_notice", "city_review", "notice"


def timed(app: Flask, step: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one run of `step` takes in a fresh app context, and what it returned."""
    with app.app_context():
        start = time.perf_counter()
        out = step()
        return time.perf_counter() - start, out


def median_of(app: Flask, step: Callable[[], Any], runs: int = 3) -> float:
    """Median seconds of `runs` runs after one warm-up."""
    timed(app, step)
    return statistics.median(timed(app, step)[0] for _ in range(runs))


def the_call() -> Call:
    return db.session.scalars(select(Call)).one()


def rank() -> int:
    return len(rank_call(the_call()).rows)


def group_by_floor() -> int:
    call_id = db.session.scalar(select(Call.id))
    rows = db.session.execute(
        select(ReviewAssignment.application_id, func.avg(ReviewAssignment.total))
        .join(Application).where(Application.call_id == call_id,
                                 ReviewAssignment.status == "submitted")
        .group_by(ReviewAssignment.application_id)).all()
    return len(rows)


def floor_move() -> int:
    """One set-based UPDATE and one bulk INSERT of audit rows, committed."""
    city = db.session.scalars(select(User).where(User.username == "city")).one()
    now = utcnow()
    ids = list(db.session.scalars(select(Application.id).where(Application.state == SOURCE)))
    version = db.session.scalar(select(Application.programme_version_id).limit(1))
    db.session.execute(update(Application).where(Application.id.in_(ids)).values(
        state=DEST, version=Application.version + 1, state_since=now, updated_at=now),
        execution_options={"synchronize_session": False})
    db.session.execute(insert(AuditEntry), [
        {"application_id": i, "actor_id": city.id, "at": now, "trigger": TRIGGER,
         "from_state": SOURCE, "to_state": DEST, "comment": "", "data": {},
         "definition_version": version, "bulk_id": "floor"} for i in ids])
    db.session.commit()
    return len(ids)


def undo_floor() -> None:
    """Put the entries back as they were before the floor's move (not timed)."""
    db.session.execute(update(Application).where(Application.state == DEST).values(
        state=SOURCE, version=Application.version - 1),
        execution_options={"synchronize_session": False})
    db.session.execute(delete(AuditEntry).where(AuditEntry.bulk_id == "floor"))
    db.session.commit()


def bulk(dry_run: bool) -> int:
    city = db.session.scalars(select(User).where(User.username == "city")).one()
    ids = list(db.session.scalars(select(Application.id).order_by(Application.id)))
    result = bulk_fire(ids, TRIGGER, city, dry_run=dry_run)
    db.session.commit()
    return result.passed


def check_moved(entries: int) -> dict[str, int]:
    """Every entry moved exactly once by the bulk run."""
    states = dict(db.session.execute(select(Application.state, func.count()).group_by(
        Application.state)).all())
    audit = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.trigger == TRIGGER, AuditEntry.bulk_id.is_not(None)))
    per_entry = db.session.scalar(select(func.count(func.distinct(AuditEntry.application_id)))
                                  .where(AuditEntry.trigger == TRIGGER))
    assert states == {DEST: entries}, states
    assert audit == entries and per_entry == entries, (audit, per_entry)
    return {"moved": states[DEST], "audit_rows": int(audit or 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--trace", action="store_true", help="also trace the real run's memory")
    args = parser.parse_args()
    app, url = fresh_instance(args.folder, args.database_url)
    start = time.perf_counter()
    with app.app_context():
        seed(args.entries, 0, one_call=True)
    seeded = time.perf_counter() - start
    out: dict[str, Any] = {"entries": args.entries, "database": url.split(":")[0].split("+")[0],
                           "seed_s": round(seeded, 1)}
    out["rank_s"] = median_of(app, rank)
    out["rank_floor_s"] = median_of(app, group_by_floor)
    out["rank_ratio"] = round(out["rank_s"] / out["rank_floor_s"], 2)
    out["bulk_floor_s"], moved = timed(app, floor_move)
    assert moved == args.entries, moved
    with app.app_context():
        undo_floor()
    out["bulk_dry_run_s"], passed = timed(app, lambda: bulk(dry_run=True))
    assert passed == args.entries, passed
    if args.trace:
        tracemalloc.start()
    out["bulk_s"], passed = timed(app, lambda: bulk(dry_run=False))
    if args.trace:
        out["bulk_peak_python_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    assert passed == args.entries, passed
    out["bulk_ratio"] = round(out["bulk_s"] / out["bulk_floor_s"], 2)
    with app.app_context():
        out.update(check_moved(args.entries))
    for key, value in out.items():
        if key.endswith("_s"):
            out[key] = round(value, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
