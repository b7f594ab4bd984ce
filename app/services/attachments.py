"""Uploaded files: checked by extension and content, stored outside static/ under random names."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import BinaryIO

import filetype
from flask import current_app
from sqlalchemy import func, select

from app.engine.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import Application, Attachment, User
from app.models.base import utcnow
from app.permissions import can_edit_application
from app.services.programmes import programme_of

CHUNK = 1024 * 1024
# What the first bytes may be detected as, for each extension a form may accept.
CONTENT_KINDS = {
    "pdf": {"pdf"}, "png": {"png"}, "jpg": {"jpg"}, "jpeg": {"jpg"}, "mp4": {"mp4", "m4v", "mov"},
    "zip": {"zip"}, "docx": {"docx", "zip"}, "xlsx": {"xlsx", "zip"}, "pptx": {"pptx", "zip"},
    "doc": {"doc", "xls", "ppt"}, "xls": {"doc", "xls", "ppt"}, "ppt": {"doc", "xls", "ppt"},
}
MIME = {
    "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "mp4": "video/mp4", "zip": "application/zip", "doc": "application/msword",
    "xls": "application/vnd.ms-excel", "ppt": "application/vnd.ms-powerpoint",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def store_attachment(application: Application, field_key: str, filename: str,
                     stream: BinaryIO, actor: User) -> Attachment:
    """Check and store one uploaded file for a file field; a single-file field is replaced."""
    if not can_edit_application(actor, application):
        raise Forbidden(zh("当前状态下不能上传附件"))
    programme = programme_of(application)
    field = programme.form_in(application.state).by_key.get(field_key)
    if field is None and field_key in programme.application_form.by_key:
        raise ValidationFailed(zh("当前阶段不能修改此附件"), {field_key: "not open in this stage"})
    if field is None or field["type"] != "file":
        raise ValidationFailed(zh("没有这个附件字段"), {field_key: "unknown file field"})
    name = _safe_name(filename)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in field["accept"]:
        raise ValidationFailed(zh("文件类型不允许，请上传 %(accept)s 文件",
                                  accept='/'.join(field['accept'])),
                               {field_key: f"extension .{extension} not accepted"})
    existing = [a for a in application.attachments if a.field_key == field_key]
    if field["multiple"] and len(existing) >= field["max_files"]:
        raise ValidationFailed(zh("此项最多上传 %(max_files)s 个文件",
                                  max_files=field['max_files']),
                               {field_key: "too many files"})
    stored, size, digest, head = _write(stream, field["max_size_mb"] * CHUNK, field_key)
    kind = filetype.guess_extension(head)
    if kind not in CONTENT_KINDS[extension]:
        stored.unlink(missing_ok=True)
        raise ValidationFailed(zh("文件内容与扩展名 .%(extension)s 不符", extension=extension),
                               {field_key: f"content looks like {kind or 'unknown'}"})
    if not field["multiple"]:
        for old in existing:
            delete_attachment(old, actor)
    attachment = Attachment(application=application, field_key=field_key, original_name=name,
                            stored_name=stored.name, content_type=MIME[extension], size=size,
                            sha256=digest, uploaded_by_id=actor.id)
    db.session.add(attachment)
    application.updated_at = utcnow()  # bumps the version: a guard reading files sees it
    db.session.flush()
    return attachment


def delete_attachment(attachment: Attachment, actor: User) -> None:
    """Remove an attachment while the entry is editable; the file goes after commit."""
    from app.services.effects import after_commit

    application = attachment.application
    if not can_edit_application(actor, application) or attachment.field_key not in \
            programme_of(application).form_in(application.state).by_key:
        raise Forbidden(zh("当前状态下不能删除附件"))
    path = attachment_path(attachment)
    db.session.delete(attachment)
    after_commit(_unlink, str(path))


def attachment_path(attachment: Attachment) -> Path:
    """Where an attachment's bytes live."""
    return _folder() / attachment.stored_name[:2] / attachment.stored_name


def _write(stream: BinaryIO, limit: int, field_key: str) -> tuple[Path, int, str, bytes]:
    """Stream to a temporary file, enforcing the size limit; sync, then rename into place."""
    stored_name = secrets.token_hex(16)
    target = _folder() / stored_name[:2] / stored_name
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".part")
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with temporary.open("wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ValidationFailed(zh("文件超过大小限制（%(limit)s MB）",
                                              limit=limit // CHUNK),
                                           {field_key: "too large"})
                if len(head) < 8192:
                    head += chunk[: 8192 - len(head)]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise ValidationFailed(zh("文件为空"), {field_key: "empty file"})
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target, size, digest.hexdigest(), head


def _safe_name(filename: str) -> str:
    """Keep the original name for display only: no path parts, no control characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "file"


def _folder() -> Path:
    """The configured upload folder."""
    return Path(current_app.config["UPLOAD_FOLDER"])


def _unlink(path: str) -> None:
    """Delete a stored file that is no longer referenced."""
    Path(path).unlink(missing_ok=True)


def attachment_counts(application: Application) -> dict[str, int]:
    """Number of files per field, for required-field checks."""
    rows = db.session.execute(select(Attachment.field_key, func.count())
                              .where(Attachment.application_id == application.id)
                              .group_by(Attachment.field_key)).all()
    return dict(rows)
