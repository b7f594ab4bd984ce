"""Issuing a whole call's certificates, and drawing its print file, in the background, resumably.

The job has two phases. First it creates the missing certificate rows (serials, codes) for every
awarded entry, ``ISSUE_BATCH`` entries per transaction; then it splits the certificates whose PDF
is not on disk yet into chunks of ``RENDER_CHUNK`` and puts one render job per chunk on the
queue, so that every worker process (both cores, or every machine on Redis) draws PDFs.

Nothing here trusts the job's counters: each step looks at what exists. An entry that has a valid
certificate is skipped (and the database refuses a second one), a PDF that is on disk is not drawn
again. A worker killed at any point therefore loses at most an uncommitted batch; when the
job is picked up again (at the worker's start, or by the minute sweep once its heartbeat is
stale) it carries on where the rows and files say it stands: no certificate twice, none skipped,
no serial gap.

A print run (one PDF of the call's valid certificates for the print shop) is drawn as multi-page
documents of ``PRINT_CHUNK`` pages — so memory stays bounded whatever the size of the call —
written to files as they are done and joined at the end; a resumed run skips the parts on disk.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

from flask import current_app
from pypdf import PdfWriter
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.certificates.render import render_print_run
from app.engine.errors import Conflict, Forbidden, PingshenError, ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.jobs import enqueue_after_commit, every_minute, job, queue
from app.models import Application, Call, Certificate, Job, Role, User
from app.models.base import utcnow
from app.services.certificate_files import ORDERS, require_city, valid_certificates
from app.services.certificates import (
    certificate_pdf,
    facts_of,
    issue_certificate,
    pdf_path,
    verify_base,
)
from app.services.programmes import programme_of
from app.services.stalled_jobs import ACTIVE, claim_stalled

LOGGER = logging.getLogger(__name__)
KIND = "issue_certificates"
PRINT = "print_run"
ISSUE_BATCH = 50
PRINT_CHUNK = 100
RENDER_CHUNK = 10
RACE_RETRIES = 3  # a batch refused this often in a row is not a race: the job fails


def start_issue_job(call: Call, actor: User) -> Job:
    """Queue the issuing of every awarded entry's certificate in ``call`` (city only).

    A call has at most one such job at a time: asking again while one runs returns it.
    """
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以批量签发证书"))
    running = active_job(call)
    if running is not None:
        return running
    if not awarded_entries(call) and not _without_pdf(_valid_ids(call)):
        raise Conflict(zh("本批次没有待签发的证书：获奖申报都已有证书"))
    record = Job(kind=KIND, call_id=call.id, created_by_id=actor.id, base_url=verify_base())
    db.session.add(record)
    db.session.flush()
    enqueue_after_commit("issue_certificates", record.id)
    return record


def active_job(call: Call, kind: str = KIND) -> Job | None:
    """The call's queued or running job of ``kind``, if any."""
    return db.session.scalar(select(Job).where(
        Job.call_id == call.id, Job.kind == kind, Job.status.in_(ACTIVE)))


def latest_job(call: Call, kind: str = KIND) -> Job | None:
    """The call's most recent job of ``kind`` (issuing, or a print run), if any."""
    return db.session.scalar(select(Job).where(Job.call_id == call.id, Job.kind == kind)
                             .order_by(Job.id.desc()).limit(1))


def awarded_entries(call: Call) -> list[Application]:
    """Entries of the call in a final state with the outcome ``awarded`` whose programme has a
    certificate, and which never had one (a revoked certificate is not silently replaced)."""
    rows = db.session.scalars(
        select(Application).where(
            Application.call_id == call.id,
            ~exists().where(Certificate.application_id == Application.id))
        .order_by(Application.id))
    entries = []
    for application in rows:
        programme = programme_of(application)
        state = programme.states.get(application.state, {})
        if (state.get("final") and state.get("outcome") == "awarded"
                and programme.workflow["certificate"] is not None):
            entries.append(application)
    return entries


def batched(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    """Consecutive slices of ``items`` of at most ``size`` (itertools.batched is 3.12+)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


@job("issue_certificates")
def run_issue_job(job_id: int) -> None:
    """Phase 1: create the missing rows; phase 2: queue the drawing of the missing PDFs."""
    record = db.session.get(Job, job_id)
    if record is None or record.status not in ACTIVE:
        return
    _beat(record, status="running")
    call = db.session.get(Call, record.call_id)
    if call is None:
        _finish(record, "failed", "批次已删除")
        return
    try:
        _create_rows(call)
    except PingshenError as exc:
        db.session.rollback()
        _finish(db.session.get(Job, job_id), "failed", exc.message)
        return
    except SQLAlchemyError:  # a full disk, a broken row: the batches committed stay
        LOGGER.exception("certificate job %s failed while issuing", job_id)
        db.session.rollback()
        _finish(db.session.get(Job, job_id), "failed",
                "签发证书时数据库出错，已签发的证书保留；排除故障后再次批量签发即可继续，详见服务器日志")
        return
    record = db.session.get(Job, job_id)
    if record is not None:
        _plan_rendering(record, call)


def _create_rows(call: Call) -> None:
    """Issue certificates for the awarded entries that have none, one transaction per batch."""
    refused = 0
    while True:
        entries = awarded_entries(call)[:ISSUE_BATCH]
        if not entries:
            return
        now = utcnow()
        tried: set[tuple[int, str | None]] = set()  # fill each template in once per batch
        try:
            for application in entries:
                key = (application.programme_version_id, application.award)
                issue_certificate(application, programme_of(application), now,
                                  trial=key not in tried)
                tried.add(key)
            db.session.commit()
            refused = 0
        except IntegrityError:
            # Someone else (a transition, another worker) issued one of these meanwhile: the
            # whole batch rolled back, serials included; the next pass skips what exists.
            # Refused again and again, it is no race: give up rather than loop for ever.
            db.session.rollback()
            refused += 1
            if refused > RACE_RETRIES:
                raise


def _plan_rendering(record: Job, call: Call) -> None:
    """Count the call's valid certificates and queue chunks for those without a PDF."""
    ids = _valid_ids(call)
    missing = _without_pdf(ids)
    record.total, record.done = len(ids), len(ids) - len(missing)
    if not missing:
        _finish(record, "done")
        return
    _beat(record)
    jobs = queue()
    for chunk in batched(missing, RENDER_CHUNK):
        jobs.enqueue("render_certificates", record.id, list(chunk), record.base_url)


def _valid_ids(call: Call) -> list[int]:
    """The ids of the call's valid certificates, by serial."""
    return list(db.session.scalars(select(Certificate.id).join(Application).where(
        Application.call_id == call.id, Certificate.status == "valid")
        .order_by(Certificate.serial)))


def _without_pdf(ids: list[int]) -> list[int]:
    """Those of ``ids`` whose PDF is not on disk."""
    return [c.id for c in _certificates(ids) if not pdf_path(c).exists()]


def _certificates(ids: Iterable[int]) -> list[Certificate]:
    """Load certificates by id (in chunks the database accepts)."""
    rows: list[Certificate] = []
    for chunk in batched(list(ids), 500):
        rows += db.session.scalars(select(Certificate).where(Certificate.id.in_(chunk)))
    return rows


@job("render_certificates")
def render_certificates(job_id: int | None, ids: list[int], base_url: str) -> None:
    """Draw the PDFs of these certificates that are not on disk yet; count them on the job."""
    drawn = failed = 0
    for certificate in _certificates(ids):
        if certificate.status != "valid" or pdf_path(certificate).exists():
            continue
        try:
            certificate_pdf(certificate, f"{base_url.rstrip('/')}/verify/{certificate.code}")
            drawn += 1
        except Exception:  # one bad certificate must not stop the other 999
            LOGGER.exception("certificate %s could not be drawn", certificate.serial)
            failed += 1
    if job_id is None:
        return
    db.session.execute(update(Job).where(Job.id == job_id, Job.status == "running").values(
        done=Job.done + drawn, failed=Job.failed + failed, heartbeat_at=utcnow()))
    db.session.commit()
    record = db.session.get(Job, job_id)
    if record is not None and record.status == "running" and \
            record.done + record.failed >= record.total:
        _settle(record)


def _settle(record: Job) -> None:
    """Close the job once every certificate has its PDF (or count what failed)."""
    call = db.session.get(Call, record.call_id)
    ids = _valid_ids(call) if call is not None else []
    drawn = len(ids) - len(_without_pdf(ids))
    record.total, record.done = len(ids), drawn
    if drawn == len(ids):
        _finish(record, "done")
    elif record.failed:
        _finish(record, "failed", f"{len(ids) - drawn} 份证书未能生成，详见服务器日志")
    else:
        db.session.commit()  # chunks still queued (a resumed job): they will settle it


def _beat(record: Job, status: str | None = None) -> None:
    """Record that the job is alive (and, the first time, that it started)."""
    now = utcnow()
    if status is not None:
        record.status = status
        record.started_at = record.started_at or now
    record.heartbeat_at = now
    db.session.commit()


def _finish(record: Job | None, status: str, error: str = "") -> None:
    """Close the job with its outcome."""
    if record is None:
        return
    record.status, record.error, record.finished_at = status, error, utcnow()
    db.session.commit()


def resume_jobs(older_than: timedelta | None = None, *, at_start: bool = False) -> list[int]:
    """Queue again the unfinished jobs with no heartbeat for ``older_than`` (default
    JOB_STALE_SECONDS; a chunk beats every few seconds) that this sweep claims (one sweep
    each, see stalled_jobs.py); return their ids.

    The minute sweep calls this. So does the worker when it starts with a SQLite queue (one
    worker command per machine), ``at_start`` with no delay: a running job died with the last
    worker, while a queued one is still in the queue and is left alone.
    """
    if older_than is None:
        older_than = timedelta(seconds=current_app.config["JOB_STALE_SECONDS"])
    claimed = claim_stalled((KIND, PRINT), older_than, running_only=at_start)
    kinds = dict(db.session.execute(select(Job.id, Job.kind).where(Job.id.in_(claimed))).all())
    for job_id in claimed:
        enqueue_after_commit("issue_certificates" if kinds[job_id] == KIND else "print_run",
                             job_id)
    db.session.commit()
    return claimed


@every_minute("resume_stalled_certificate_jobs")
def resume_stalled() -> None:
    """The minute sweep: pick up jobs whose worker stopped."""
    resumed = resume_jobs()
    if resumed:
        LOGGER.warning("resumed stalled certificate jobs %s", resumed)


def start_print_job(call: Call, actor: User, order: str = "serial") -> Job:
    """Queue the drawing of one print-ready PDF of the call's valid certificates (city only).

    ``order`` is ``serial`` or ``district`` (then serial). While a print run of the call is
    queued or running, that one is returned.
    """
    require_city(actor)
    if order not in ORDERS:
        raise ValidationFailed(zh("排序方式应为 serial（按编号）或 district（按区）"),
                               {"order": order[:20]})
    running = active_job(call, PRINT)
    if running is not None:
        return running
    if not _valid_ids(call):
        raise Conflict(zh("本批次没有有效的证书"))
    record = Job(kind=PRINT, call_id=call.id, created_by_id=actor.id, base_url=verify_base(),
                 options={"order": order})
    db.session.add(record)
    db.session.flush()
    enqueue_after_commit("print_run", record.id)
    return record


def print_file(record: Job) -> Path:
    """Where a print run's PDF is (or will be) kept."""
    return Path(current_app.config["CERTIFICATE_FOLDER"]) / "print-runs" / f"{record.id}.pdf"


@job("print_run")
def run_print_job(job_id: int) -> None:
    """Draw the call's certificates in parts of PRINT_CHUNK pages, then join the parts."""
    record = db.session.get(Job, job_id)
    if record is None or record.status not in ACTIVE:
        return
    _beat(record, status="running")
    call = db.session.get(Call, record.call_id)
    certificates = valid_certificates(call, record.options.get("order", "serial")) \
        if call is not None else []
    if not certificates:
        _finish(record, "failed", "本批次没有有效的证书")
        return
    record.total = len(certificates)
    target = print_file(record)
    target.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    for number, start in enumerate(range(0, len(certificates), PRINT_CHUNK)):
        part = target.with_suffix(f".part{number:03d}")
        chunk = certificates[start:start + PRINT_CHUNK]
        if not part.exists():
            facts = [facts_of(c, f"{record.base_url}/verify/{c.code}") for c in chunk]
            _write_atomically(part, render_print_run(facts))
        parts.append(part)
        record.done = start + len(chunk)
        _beat(record)
    _join(parts, target)
    _finish(record, "done")


def _join(parts: list[Path], target: Path) -> None:
    """Write the parts as one PDF (pages in order) and remove them."""
    if len(parts) == 1:
        os.replace(parts[0], target)
        return
    writer = PdfWriter()
    for part in parts:
        writer.append(str(part))
    buffer = io.BytesIO()
    writer.write(buffer)
    _write_atomically(target, buffer.getvalue())
    for part in parts:
        part.unlink()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so a kill leaves no half file (a
    random name: workers on several machines share the folder, and their process ids may
    coincide)."""
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
