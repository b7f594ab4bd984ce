"""The real background worker (`flask jobs worker`, two processes, SQLite queue file) issuing a
call's certificates, killed in the middle and started again: every certificate exists exactly
once, with gap-free serials and a PDF on disk."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, Job
from app.services.certificate_jobs import start_issue_job
from app.services.certificates import pdf_path

ENTRIES = 40


def _job(job_id: int) -> Job:
    """The job as the database has it now."""
    db.session.rollback()  # end the read transaction: see what the workers committed
    job = db.session.get(Job, job_id)
    assert job is not None
    return job


def _wait(job_id: int, done: Callable[[Job], bool], seconds: float, logs: Path) -> Job:
    """Poll the job until ``done`` holds, or fail with the workers' logs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = _job(job_id)
        if done(job):
            return job
        time.sleep(0.1)
    output = "\n".join(p.read_text(errors="replace") for p in sorted(logs.glob("worker*.log")))
    pytest.fail(f"job {job_id} did not get there in {seconds} s: {_job(job_id).status} "
                f"{_job(job_id).done}/{_job(job_id).total}\n{output}")


def test_a_worker_killed_mid_job_and_restarted_leaves_every_certificate_exactly_once(
        world, awarded, worker, tmp_path):
    entries = awarded(ENTRIES)
    job_id = start_issue_job(world["call"], world["users"]["city"]).id
    db.session.commit()

    first = worker()
    _wait(job_id, lambda job: job.done >= 8, 90, tmp_path)
    os.killpg(first.pid, signal.SIGKILL)  # the worker and both its processes, mid-chunk
    first.wait()
    interrupted = _job(job_id)
    assert interrupted.status == "running" and interrupted.done < ENTRIES

    worker()
    job = _wait(job_id, lambda job: job.status != "running", 120, tmp_path)
    assert (job.status, job.total, job.done, job.failed) == ("done", ENTRIES, ENTRIES, 0)
    assert job.resumed == 1

    certificates = db.session.scalars(select(Certificate).order_by(Certificate.serial)).all()
    assert sorted(c.application_id for c in certificates) == sorted(e.id for e in entries)
    assert [c.serial for c in certificates] == [f"YXTD-2026-{n:04d}" for n in
                                                range(1, ENTRIES + 1)]
    folder = Path(pdf_path(certificates[0]).parent)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{c.code}.pdf"
                                                              for c in certificates)
    for certificate in certificates:  # whole files, none cut short by the kill
        assert len(PdfReader(pdf_path(certificate)).pages) == 1
    # The QR codes carry the address the administrator used, not the worker's configuration.
    assert job.base_url == "http://pingshen.test"
