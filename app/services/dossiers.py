"""Dossiers of the entries a call recommends to a higher level (e.g. the provincial contest):
one ZIP with the list as Excel and a folder per entry holding its attachments."""

from __future__ import annotations

import io
import re
import zipfile

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.engine.errors import Conflict, Forbidden
from app.extensions import db
from app.i18n import zh
from app.models import Application, Call, Certificate, Role, User
from app.services.attachments import attachment_path
from app.services.exports import recommended_xlsx


def recommended(call: Call) -> list[Application]:
    """The call's entries recommended upward, by district then entry number."""
    rows = db.session.scalars(select(Application).where(
        Application.call_id == call.id, Application.recommended_to.is_not(None))
        .options(selectinload(Application.attachments), selectinload(Application.org),
                 selectinload(Application.district)))
    return sorted(rows, key=lambda a: (a.district.code if a.district else "", a.id))


def recommended_zip(call: Call, actor: User) -> bytes:
    """推荐名单.xlsx and, per entry, a folder 01-title/ with its attachments (city only)."""
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以导出上级推荐材料"))
    entries = recommended(call)
    if not entries:
        raise Conflict(zh("本批次还没有推荐至上级的申报"))
    serials = {application_id: serial for application_id, serial in db.session.execute(
        select(Certificate.application_id, Certificate.serial).where(
            Certificate.application_id.in_([e.id for e in entries]),
            Certificate.status == "valid"))}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("推荐名单.xlsx", recommended_xlsx(call, entries, serials))
        for number, entry in enumerate(entries, start=1):
            folder = f"{number:02d}-{safe_name(entry.title)}"
            for attachment in sorted(entry.attachments, key=lambda a: a.id):
                archive.write(attachment_path(attachment),
                              f"{folder}/{attachment.id}-{safe_name(attachment.original_name)}")
    return buffer.getvalue()


def safe_name(name: str, limit: int = 60) -> str:
    """A file or folder name without characters a file system refuses (nor control characters
    or leading dots), Chinese kept, at most ``limit`` characters."""
    return re.sub(r'[\\/:*?"<>|\s\x00-\x1f\x7f]+', "_", name).lstrip(".")[:limit] or "_"
