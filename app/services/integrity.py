"""What must always hold in the data, checked after a restore and by `flask check`.

Each check reads, never repairs: a problem is a sentence for the operator, in Chinese, naming
the row. The checks: every entry's state is where its audit log says it went; every uploaded
file and objection evidence still on disk with its recorded size; SQLite's own integrity and
foreign-key checks.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select, text

from app.extensions import db
from app.i18n import zh
from app.models import Application, Attachment, AuditEntry, Objection
from app.services.attachments import attachment_path
from app.services.objections import evidence_folder


def integrity_problems() -> list[str]:
    """Every broken invariant found, as a message naming the row; empty when all hold."""
    return [*_states_follow_the_audit_log(), *_files_are_on_disk(), *_database_checks()]


def _states_follow_the_audit_log() -> Iterator[str]:
    """An entry's state is the last audit row's target state (only the engine moves state,
    and it writes the row in the same transaction)."""
    last = (select(AuditEntry.application_id, func.max(AuditEntry.id).label("id"))
            .group_by(AuditEntry.application_id).subquery())
    rows = db.session.execute(
        select(Application.id, Application.state, AuditEntry.to_state)
        .outerjoin(last, last.c.application_id == Application.id)
        .outerjoin(AuditEntry, AuditEntry.id == last.c.id)
        .order_by(Application.id))
    for app_id, state, logged in rows:
        if logged is None:
            yield zh("申报 #%(id)s 没有任何审计记录", id=app_id)
        elif logged != state:
            yield zh("申报 #%(id)s 的状态为 %(state)s，但审计日志最后记录的是 %(logged)s",
                     id=app_id, state=state, logged=logged)


def _files_are_on_disk() -> Iterator[str]:
    """Uploads cannot be made again: each row's file exists with the size recorded."""
    for attachment in db.session.scalars(select(Attachment).order_by(Attachment.id)):
        path = attachment_path(attachment)
        if not path.is_file():
            yield zh("附件 #%(id)s（%(name)s）的文件不存在", id=attachment.id,
                     name=attachment.original_name)
        elif path.stat().st_size != attachment.size:
            yield zh("附件 #%(id)s（%(name)s）的文件大小与记录不符", id=attachment.id,
                     name=attachment.original_name)
    folder = evidence_folder()
    for objection_id, stored in db.session.execute(
            select(Objection.id, Objection.evidence_stored)
            .where(Objection.evidence_stored.is_not(None)).order_by(Objection.id)):
        if not (folder / str(stored)).is_file():
            yield zh("异议 #%(id)s 的证明材料文件不存在", id=objection_id)


def _database_checks() -> Iterator[str]:
    """SQLite's page-level integrity and foreign keys (PostgreSQL enforces both itself)."""
    if db.engine.dialect.name != "sqlite":
        return
    verdict = db.session.execute(text("PRAGMA integrity_check")).scalar_one()
    if verdict != "ok":
        yield zh("数据库完整性检查未通过：%(verdict)s", verdict=verdict)
    for table, rowid, parent, _ in db.session.execute(text("PRAGMA foreign_key_check")):
        yield zh("表 %(table)s 第 %(rowid)s 行引用的 %(parent)s 记录不存在",
                 table=table, rowid=rowid, parent=parent)
