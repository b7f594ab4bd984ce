"""Fixtures of the certificate tests: awarded entries, and a real background worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from flask import Flask

from app.extensions import db
from app.jobs import EXTENSION, JobQueue
from app.models import Application

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def awarded(world, make_application):
    """Six named teams without certificates, as a call imported with its outcomes would be
    (or a programme whose bureau issues the certificates by hand, all at once)."""

    def make(count: int = 6) -> list[Application]:
        entries = []
        for n in range(count):
            entry = make_application(f"{'wj' if n % 2 else 'tn'}{n % 3 + 1}",
                                     name=f"第{n + 1}支优秀团队")
            entry.state = "named"  # set-up only: the outcome of a past call
            entries.append(entry)
        db.session.commit()
        return entries

    return make


@pytest.fixture
def worker(app: Flask, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start `flask jobs worker` processes on a SQLite queue shared with the test's app."""
    app.config["JOB_QUEUE_URL"] = f"sqlite:///{tmp_path / 'jobs.db'}"
    app.extensions[EXTENSION] = JobQueue(app)
    env = {**os.environ, "FLASK_APP": "wsgi.py", "PINGSHEN_INSTANCE": str(tmp_path),
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "JOB_QUEUE_URL": app.config["JOB_QUEUE_URL"],
           "CERTIFICATE_FOLDER": app.config["CERTIFICATE_FOLDER"],
           "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"], "SECRET_KEY": "test-secret",
           "PUBLIC_BASE_URL": "http://ignored.test"}
    started: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []

    def start(processes: int = 2) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker{len(started)}.log").open("wb")
        logs.append(log)
        process = subprocess.Popen([sys.executable, "-m", "flask", "jobs", "worker",
                                    "--workers", str(processes)], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for log in logs:
        log.close()
