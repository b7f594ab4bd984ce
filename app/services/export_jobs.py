"""What the web pages, the API and the command line share about a call's exports, beyond the
files themselves: their names, the reader the command line exports as, who may follow a
background job and fetch its file, and the applications workbook of a big call.

The applications workbook takes about a millisecond per entry: a call of ten thousand entries
would hold a web request for ten seconds. Above ``EXPORT_INLINE_LIMIT`` entries its download is
refused (409) and a POST has it built by the background worker like the dossier ZIP (same
scope rules, same progress, same resumption when a worker stops): a GET never starts a job.
A finished workbook replaces the previous one of the call and district.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from app.engine.errors import Conflict, ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.jobs import enqueue_after_commit, every_minute, job
from app.models import Call, Job, Organisation, OrgKind, Role, User
from app.models.base import utcnow
from app.services.application_export import applications_xlsx
from app.services.applications import EntryFilter, call_entries
from app.services.certificate_jobs import PRINT, print_file
from app.services.dossier_jobs import (
    ACTIVE,
    APPLICATIONS,
    KIND,
    beat,
    dossier_file,
    drop_older,
    finish,
    may_use,
    resume_dossier_jobs,
    scope_of,
    waiting_job,
)

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobFile:
    """A finished job's file and the name it is downloaded as (its type follows the name)."""

    path: Path
    name: str


def district_by_code(code: str) -> Organisation:
    """The district with this code (422 when there is none)."""
    district = db.session.scalar(select(Organisation).where(
        Organisation.code == code.strip(), Organisation.kind == OrgKind.DISTRICT))
    if district is None:
        raise ValidationFailed(zh("没有这个区：%(code)s", code=code),
                               {"district": zh("没有这个区")})
    return district


def console_reader(district: Organisation | None = None) -> User:
    """The reader the command line exports as: the city, or with ``district`` that district's
    administrator, so that each export holds what that administrator gets on the web. The
    server's operator may read everything; this account is never stored."""
    role = Role.DISTRICT_ADMIN if district is not None else Role.CITY_ADMIN
    return User(username="console", name="命令行", role=role, org=district)


def reader_district(reader: User) -> Organisation | None:
    """The district a district administrator's exports are limited to (None for the city)."""
    if reader.role != Role.DISTRICT_ADMIN or reader.district_id is None:
        return None
    return db.session.get(Organisation, reader.district_id)


def export_name(call: Call, what: str, extension: str, district: Organisation | None) -> str:
    """``<call>-<what>.<ext>``, with the district for a district's export."""
    return f"{call.title}-{district.name + '-' if district else ''}{what}.{extension}"


def may_follow(record: Job, actor: User) -> bool:
    """Whether ``actor`` may follow a background job and fetch its file: the city every job,
    a district administrator the export jobs of their own district."""
    return actor.role == Role.CITY_ADMIN or may_use(record, actor)


def job_download(record: Job) -> JobFile:
    """A finished job's file; 409 while it is not done, for a job that makes no file, and
    when a newer export of the same call and district has replaced it."""
    makers = {PRINT: (print_file, "证书印制", "pdf"), KIND: (dossier_file, "申报书", "zip"),
              APPLICATIONS: (applications_file, "申报信息", "xlsx")}
    if record.kind not in makers or record.status != "done":
        raise Conflict(zh("该任务没有可下载的文件（尚未完成，或不生成文件）"),
                       {"status": record.status, "kind": record.kind})
    file_of, what, extension = makers[record.kind]
    path = file_of(record)
    call = db.session.get(Call, record.call_id or 0)
    if call is None or not path.exists():
        raise Conflict(zh("该文件已被更新的导出取代，请重新生成"), {"job_id": record.id})
    district_id = (record.options or {}).get("district_id")
    district = db.session.get(Organisation, district_id) if district_id else None
    return JobFile(path, export_name(call, what, extension, district))


# --- the applications workbook of a big call -----------------------------------------------


class WorkbookTooBig(Conflict):
    """The workbook would hold more than EXPORT_INLINE_LIMIT entries: it is built in the
    background, started by a POST (start_applications_job), never by the download itself."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"本批次申报较多（{count} 项，超过 {limit} 项），申报信息表需在后台生成",
                         {"count": count, "limit": limit})
        self.count = count


def applications_count(call: Call, actor: User, chosen: EntryFilter) -> int:
    """How many entries the applications workbook would hold for ``actor``."""
    entries = call_entries(call, actor, chosen).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(entries)) or 0


def built_in_background(count: int) -> bool:
    """Whether a workbook of ``count`` entries is too big to build within a request."""
    return count > current_app.config["EXPORT_INLINE_LIMIT"]


def applications_workbook(call: Call, actor: User, chosen: EntryFilter) -> bytes:
    """The applications workbook as ``actor`` may have it, built now; WorkbookTooBig (409)
    when it is to be built in the background. Changes nothing."""
    count = applications_count(call, actor, chosen)
    if built_in_background(count):
        raise WorkbookTooBig(count, current_app.config["EXPORT_INLINE_LIMIT"])
    return applications_xlsx(call, actor, call_entries(call, actor, chosen))


def start_applications_job(call: Call, actor: User, chosen: EntryFilter) -> Job:
    """Queue the building of the workbook (the same request while one runs returns it)."""
    options = {"district_id": scope_of(actor), "filter": chosen.as_dict()}
    running = db.session.scalars(select(Job).where(
        Job.call_id == call.id, Job.kind == APPLICATIONS, Job.status.in_(ACTIVE)))
    for record in running:
        if record.options == options:
            return record
    record = Job(kind=APPLICATIONS, call_id=call.id, created_by_id=actor.id, options=options,
                 total=applications_count(call, actor, chosen))
    db.session.add(record)
    db.session.flush()
    enqueue_after_commit(APPLICATIONS, record.id)
    return record


def applications_file(record: Job) -> Path:
    """Where an applications job's workbook is (or will be) kept."""
    return Path(current_app.config["EXPORT_FOLDER"]) / "applications" / f"{record.id}.xlsx"


@job(APPLICATIONS)
def run_applications_job(job_id: int) -> None:
    """Write the workbook to a temporary file renamed when complete; count progress."""
    loaded = waiting_job(job_id)
    if loaded is None:
        return
    record, call, actor = loaded
    record.status, record.done = "running", 0
    record.started_at = record.started_at or utcnow()
    beat(record)

    def progress(done: int, total: int) -> None:
        """Count on the job and show it is alive."""
        record.done, record.total = done, total
        beat(record)

    target = applications_file(record)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A random name: the folder may be shared by workers on several machines.
    part = target.with_name(f"{target.name}.{secrets.token_hex(4)}.part")
    try:
        chosen = EntryFilter(**record.options.get("filter", {}))
        part.write_bytes(applications_xlsx(call, actor, call_entries(call, actor, chosen),
                                           progress))
        os.replace(part, target)
    except Exception:
        LOGGER.exception("applications export job %s failed", job_id)
        part.unlink(missing_ok=True)
        db.session.rollback()
        finish(db.session.get(Job, job_id), "failed", "生成申报信息表时出错，详见服务器日志")
        return
    finished = db.session.get(Job, job_id)
    finish(finished, "done")
    if finished is not None:
        drop_older(finished, applications_file)


@every_minute("resume_stalled_application_exports")
def resume_stalled() -> None:
    """The minute sweep: start again the workbook jobs whose worker stopped."""
    resumed = resume_dossier_jobs(kind=APPLICATIONS)
    if resumed:
        LOGGER.warning("resumed stalled applications export jobs %s", resumed)
