"""Taking up background jobs whose worker stopped: a stalled job is claimed by one sweep only.

Every worker command runs the minute sweeps (app/jobs.py), so with workers on several machines
several sweeps look for stalled jobs at the same moment. A sweep claims a job with one
conditional UPDATE — still queued or running, heartbeat still old — that sets the heartbeat to
now and counts the resumption; only the jobs that UPDATE took are queued again. A second
sweep's UPDATE finds the heartbeat fresh and takes nothing, so a resumed job is queued once,
not once per machine. On PostgreSQL rows another sweep holds are skipped (SKIP LOCKED) rather
than waited for; SQLite runs one writer at a time, so the UPDATE alone decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.models import Job
from app.models.base import utcnow

ACTIVE = ("queued", "running")


def claim_stalled(kinds: Iterable[str], older_than: timedelta, *,
                  running_only: bool = False) -> list[int]:
    """Claim the active jobs of ``kinds`` without a heartbeat for ``older_than`` (only the
    running ones with ``running_only``): heartbeat now, ``resumed`` + 1. Return their ids;
    flushed, the caller queues them after its commit."""
    now = utcnow()
    limit = now - older_than
    stale = (Job.kind.in_(list(kinds)) & Job.status.in_(("running",) if running_only else ACTIVE)
             & ((Job.heartbeat_at.is_(None) & (Job.created_at <= limit))
                | (Job.heartbeat_at <= limit)))
    candidates = select(Job.id).where(stale)
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claimed = db.session.scalars(
        update(Job).where(Job.id.in_(candidates.scalar_subquery()), stale)
        .values(heartbeat_at=now, resumed=Job.resumed + 1)
        .returning(Job.id)
        .execution_options(synchronize_session=False))
    return sorted(claimed)
