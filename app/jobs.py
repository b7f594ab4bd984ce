"""The background job queue: huey on SQLite by default (no server), on Redis in production.

A job is a plain function registered by name with ``@job``; it takes plain values (ids) and
runs in an application context of the worker (``flask jobs worker``). Enqueue jobs with
``enqueue_after_commit`` so that a job never looks for rows that have not been committed.

``JOB_QUEUE_URL`` chooses the queue:
- ``sqlite:////abs/path/jobs.db`` (the default, in instance/): one file, any number of worker
  processes on this machine;
- ``redis://host:6379/0``: any number of workers on any number of machines;
- ``immediate``: no queue, a job runs at once in the process that enqueues it (tests, or a
  machine without a worker).

``JOB_QUEUE_NAME`` (default ``pingshen``) names the queue inside that storage, so that two
instances (production and a trial, or a test) can share one Redis without taking each other's
jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

from app.services.effects import after_commit

LOGGER = logging.getLogger(__name__)
EXTENSION = "pingshen.jobs"
JOBS: dict[str, Callable[..., Any]] = {}
PERIODIC: dict[str, Callable[[], Any]] = {}


def job(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as the background job ``name``."""
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in JOBS:
            raise ValueError(f"job {name!r} is registered twice")
        JOBS[name] = func
        return func
    return register


def every_minute(name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register a function the worker runs once a minute (e.g. to resume stalled jobs)."""
    def register(func: Callable[[], Any]) -> Callable[[], Any]:
        PERIODIC[name] = func
        return func
    return register


def make_queue(url: str, name: str = "pingshen") -> Huey:
    """Return the huey queue called ``name`` in the storage that ``url`` names."""
    if url == "immediate":
        return MemoryHuey(name, immediate=True)
    parts = urlsplit(url)
    if parts.scheme == "sqlite" and parts.path:
        path = Path(unquote(parts.path))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=str(path))
    if parts.scheme in ("redis", "rediss"):
        return RedisHuey(name, url=url)
    raise ValueError(f"JOB_QUEUE_URL must be sqlite:////path, redis://host:port/db or "
                     f"immediate, got {url!r}")


class JobQueue:
    """The app's queue and its tasks, one per registered job."""

    def __init__(self, app: Flask) -> None:
        self.huey = make_queue(app.config["JOB_QUEUE_URL"], app.config["JOB_QUEUE_NAME"])
        self.tasks = {name: self.huey.task(name=name)(_in_context(app, func))
                      for name, func in JOBS.items()}
        for name, func in PERIODIC.items():
            self.huey.periodic_task(crontab(minute="*"), name=name)(_in_context(app, func))

    @property
    def immediate(self) -> bool:
        """True when jobs run at once in the enqueuing process."""
        return bool(self.huey.immediate)

    def enqueue(self, name: str, *args: Any) -> None:
        """Put the job ``name`` with ``args`` on the queue (or run it now when immediate)."""
        self.tasks[name](*args)

    def pending(self) -> int:
        """How many jobs wait in the queue."""
        return int(self.huey.pending_count())


def _in_context(app: Flask, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``func`` to run in a fresh application context with its own session."""
    from app.extensions import db

    def run(*args: Any) -> Any:
        with app.app_context():
            try:
                return func(*args)
            finally:
                db.session.remove()
    run.__name__ = run.__qualname__ = func.__name__
    run.__doc__ = func.__doc__
    return run


def init_app(app: Flask) -> None:
    """Create the queue for ``app`` (importing the modules that register jobs first)."""
    from app.services import (  # noqa: F401  (register their jobs)
        certificate_jobs,
        dossier_jobs,
        export_jobs,
        mail,
        timers,
    )

    app.extensions[EXTENSION] = JobQueue(app)


def queue() -> JobQueue:
    """The current app's job queue."""
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def enqueue_after_commit(name: str, *args: Any) -> None:
    """Enqueue the job once the current transaction has committed (dropped on rollback)."""
    if name not in JOBS:
        raise KeyError(f"unknown job {name!r}")
    after_commit(_enqueue, queue(), name, args)


def _enqueue(jobs: JobQueue, name: str, args: tuple[Any, ...]) -> None:
    """Put a job on the queue; if the queue is down the work waits for the minute sweep."""
    jobs.enqueue(name, *args)
