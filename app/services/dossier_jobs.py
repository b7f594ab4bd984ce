"""A whole call as one ZIP of dossiers, built by the background worker.

Per submitted entry a folder ``<district>/<entry no>-<title>/`` holds its 申报书.pdf (as the
administrator who asked may print it) and its attachments; 目录.xlsx at the root lists them.
The city gets every district, a district administrator their own. The ZIP is written entry by
entry to a temporary file in EXPORT_FOLDER (PDFs one at a time, attachments streamed from disk),
so memory stays flat whatever the size of the call, and renamed when complete; a finished ZIP
replaces the previous one of the same call and district. A worker that stops mid-way leaves
the job without heartbeat: the minute sweep starts it again from the beginning.
"""

from __future__ import annotations

import logging
import os
import secrets
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.engine.errors import Conflict, Forbidden
from app.extensions import db
from app.i18n import zh
from app.jobs import enqueue_after_commit, every_minute, job
from app.models import Application, Call, Job, Organisation, Role, User
from app.models.base import utcnow
from app.services.application_export import entry_cells, require_administrator
from app.services.application_print import application_pdf
from app.services.applications import visible_applications
from app.services.attachments import attachment_path
from app.services.dossiers import safe_name
from app.services.stalled_jobs import ACTIVE, claim_stalled
from app.services.workbooks import Table, tables_xlsx

LOGGER = logging.getLogger(__name__)
KIND = "call_dossiers"
APPLICATIONS = "applications_export"  # a big call's applications workbook (export_jobs.py)
EXPORT_KINDS = (KIND, APPLICATIONS)  # jobs of a call's exports: the city's, or a district's
CHUNK = 10  # entries read (and progress reported) at a time
STORED = {".mp4", ".jpg", ".jpeg", ".png", ".zip", ".docx", ".xlsx", ".pptx"}  # compressed
INDEX_HEADERS = ["序号", "申报编号", "申报名称", "申报单位", "所属区", "当前状态", "提交时间",
                 "获奖等级", "文件夹", "附件数", "备注"]
NO_DISTRICT = "未归属区"
Progress = Callable[[int, int, int], None]  # (entries done, 申报书 not drawn, entries in all)


def scope_of(actor: User) -> int | None:
    """The district a user's dossiers cover (None: the whole call, for the city)."""
    require_administrator(actor)
    if actor.role == Role.CITY_ADMIN:
        return None
    if actor.district_id is None:
        raise Forbidden(zh("该账号没有所属区，不能导出申报书"))
    return actor.district_id


def may_use(record: Job, actor: User) -> bool:
    """Whether ``actor`` may follow or download this export job (the city: all of them; a
    district administrator: their own district's)."""
    if record.kind not in EXPORT_KINDS or actor.role not in (Role.CITY_ADMIN,
                                                              Role.DISTRICT_ADMIN):
        return False
    return actor.role == Role.CITY_ADMIN or (
        actor.district_id is not None and record.options.get("district_id") == actor.district_id)


def latest_dossier_job(call: Call, actor: User, kind: str = KIND) -> Job | None:
    """The most recent export job (dossiers, unless ``kind`` says otherwise) of the call in
    the actor's scope."""
    district = scope_of(actor)
    for record in db.session.scalars(select(Job).where(
            Job.call_id == call.id, Job.kind == kind).order_by(Job.id.desc())):
        if record.options.get("district_id") == district:
            return record
    return None


def start_dossier_job(call: Call, actor: User) -> Job:
    """Queue the building of the call's dossier ZIP (one at a time per call and district)."""
    district = scope_of(actor)
    latest = latest_dossier_job(call, actor)
    if latest is not None and latest.status in ACTIVE:
        return latest
    if not dossier_entry_ids(call, actor):
        raise Conflict(zh("本批次还没有已提交的申报"))
    record = Job(kind=KIND, call_id=call.id, created_by_id=actor.id,
                 options={"district_id": district})
    db.session.add(record)
    db.session.flush()
    enqueue_after_commit(KIND, record.id)
    return record


def dossier_file(record: Job) -> Path:
    """Where a dossier job's ZIP is (or will be) kept."""
    return Path(current_app.config["EXPORT_FOLDER"]) / "dossiers" / f"{record.id}.zip"


def dossier_entry_ids(call: Call, actor: User) -> list[int]:
    """The submitted entries of the call the actor may list, by district then number."""
    query = (visible_applications(actor).where(Application.call_id == call.id).order_by(None)
             .outerjoin(Organisation, Organisation.id == Application.district_id)
             .order_by(Organisation.code, Application.id))
    return list(db.session.scalars(query.with_only_columns(Application.id)))


def waiting_job(job_id: int) -> tuple[Job, Call, User] | None:
    """An export job still to run, with its call and the user it runs for; None when it is
    done or gone (a job whose call or user is gone is marked failed)."""
    record = db.session.get(Job, job_id)
    if record is None or record.status not in ACTIVE:
        return None
    call = db.session.get(Call, record.call_id or 0)
    actor = db.session.get(User, record.created_by_id or 0)
    if call is None or actor is None:
        finish(record, "failed", "批次或发起人已不存在")
        return None
    return record, call, actor


@job(KIND)
def run_dossier_job(job_id: int) -> None:
    """Write the ZIP entry by entry, then the index; count progress on the job."""
    loaded = waiting_job(job_id)
    if loaded is None:
        return
    record, call, actor = loaded
    record.started_at = record.started_at or utcnow()

    def progress(done: int, failed: int, total: int) -> None:
        """Count on the job and show it is alive."""
        record.status, record.done, record.failed, record.total = "running", done, failed, total
        beat(record)

    try:
        write_dossiers(dossier_file(record), call, actor, progress)
    except Exception:
        LOGGER.exception("dossier job %s failed", job_id)
        db.session.rollback()
        finish(db.session.get(Job, job_id), "failed", "生成申报书合集时出错，详见服务器日志")
        return
    finished = db.session.get(Job, job_id)
    finish(finished, "done")
    if finished is not None:
        drop_older(finished, dossier_file)


def write_dossiers(target: Path, call: Call, actor: User, progress: Progress) -> int:
    """Write the ZIP of the call's dossiers as ``actor`` may have them to ``target`` (through
    a temporary file renamed when complete); ``progress(done, failed, total)`` is told at the
    start and after every ``CHUNK`` entries. Return the number of entries."""
    ids = dossier_entry_ids(call, actor)
    progress(0, 0, len(ids))
    target.parent.mkdir(parents=True, exist_ok=True)
    # A random name: the folder may be shared by workers on several machines.
    part = target.with_name(f"{target.name}.{secrets.token_hex(4)}.part")
    try:
        _write_zip(part, call, actor, ids, progress)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, target)
    return len(ids)


def _write_zip(path: Path, call: Call, actor: User, ids: list[int], progress: Progress) -> None:
    """The ZIP: a folder per entry, then 目录.xlsx."""
    index: list[list[Any]] = []
    position = {entry_id: n for n, entry_id in enumerate(ids)}
    failed = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for start in range(0, len(ids), CHUNK):
            entries = db.session.scalars(select(Application).where(
                Application.id.in_(ids[start:start + CHUNK])).options(
                selectinload(Application.org), selectinload(Application.district),
                selectinload(Application.attachments)))
            for entry in sorted(entries, key=lambda a: position[a.id]):
                drawn, note = _add_entry(archive, entry, actor)
                index.append([len(index) + 1, *_index_row(entry), _folder(entry),
                              len(entry.attachments), note or None])
                failed += not drawn
            progress(len(index), failed, len(ids))
        archive.writestr("目录.xlsx", tables_xlsx(call.title, [Table("目录", INDEX_HEADERS,
                                                                    index)]))


def _add_entry(archive: zipfile.ZipFile, entry: Application, actor: User) -> tuple[bool, str]:
    """Put one entry's 申报书 and attachments in its folder; return whether the 申报书 was
    drawn, and what went wrong, if anything (one bad entry must not stop the other 299)."""
    folder = _folder(entry)
    problems = []
    drawn = True
    try:
        archive.writestr(f"{folder}/申报书.pdf", application_pdf(entry, actor))
    except Exception:
        LOGGER.exception("the 申报书 of entry %s could not be drawn", entry.id)
        problems.append("申报书未能生成")
        drawn = False
    taken = {"申报书.pdf"}
    for attachment in entry.attachments:
        path = attachment_path(attachment)
        if not path.exists():
            problems.append(f"附件缺失：{attachment.original_name}")
            continue
        name = _unique(_file_name(attachment.original_name), taken)
        kind = zipfile.ZIP_STORED if PurePosixPath(name).suffix.lower() in STORED \
            else zipfile.ZIP_DEFLATED
        archive.write(path, f"{folder}/{name}", compress_type=kind)
    return drawn, "；".join(problems)


def _folder(entry: Application) -> str:
    """``<district>/<entry no>-<title>``, safe for every file system, Chinese kept."""
    district = entry.district.name if entry.district else NO_DISTRICT
    return f"{safe_name(district, 30)}/{safe_name(f'{entry.id}-{entry.title}', 60)}"


def _file_name(original: str) -> str:
    """A safe file name that keeps its extension when the name is cut short."""
    path = PurePosixPath(safe_name(original, 200))
    suffix = path.suffix[:10]
    return safe_name(path.stem, 60 - len(suffix)) + suffix


def _index_row(entry: Application) -> list[Any]:
    """The index columns that describe the entry."""
    number, title, unit, district, state, submitted = entry_cells(entry)
    return [number, title, unit, district, state, submitted, entry.award]


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2.ext`` and so on when the folder already has it."""
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{stem}-{number}{suffix}", number + 1
    taken.add(candidate)
    return candidate


def beat(record: Job) -> None:
    """Record progress and that the job is alive."""
    record.heartbeat_at = utcnow()
    db.session.commit()


def finish(record: Job | None, status: str, error: str = "") -> None:
    """Close the job with its outcome."""
    if record is None:
        return
    record.status, record.error, record.finished_at = status, error, utcnow()
    db.session.commit()


def drop_older(record: Job, file_of: Callable[[Job], Path]) -> None:
    """Delete the files of earlier jobs of the same kind, call and district."""
    for older in db.session.scalars(select(Job).where(
            Job.call_id == record.call_id, Job.kind == record.kind, Job.id < record.id)):
        if older.options.get("district_id") == record.options.get("district_id"):
            file_of(older).unlink(missing_ok=True)


def resume_dossier_jobs(older_than: timedelta | None = None, kind: str = KIND) -> list[int]:
    """Queue again the export jobs of ``kind`` whose worker stopped (no heartbeat for
    JOB_STALE_SECONDS) that this sweep claims (see stalled_jobs.py); they start over."""
    if older_than is None:
        older_than = timedelta(seconds=current_app.config["JOB_STALE_SECONDS"])
    claimed = claim_stalled((kind,), older_than)
    for job_id in claimed:
        enqueue_after_commit(kind, job_id)
    db.session.commit()
    return claimed


@every_minute("resume_stalled_dossier_jobs")
def resume_stalled() -> None:
    """The minute sweep: start again the dossier jobs whose worker stopped."""
    resumed = resume_dossier_jobs()
    if resumed:
        LOGGER.warning("resumed stalled dossier jobs %s", resumed)
