"""Importing organisations, users and experts from Excel: template, upload, preview, confirm.

The uploaded file waits in IMPORT_FOLDER under a name the server chose, bound to the uploader's
session, until it is imported or cancelled; preview and confirmation both read that stored copy,
and the confirmation applies only what the preview showed (the report's fingerprint).
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from app.blueprints.admin.views import bp
from app.engine.errors import PingshenError
from app.extensions import db
from app.i18n import role_label
from app.models import Role
from app.services.import_sheets import MAX_BYTES
from app.services.import_specs import credentials_xlsx, template_xlsx
from app.services.imports import Credential, apply_import, check_file, summary
from app.web.access import roles_required
from app.web.downloads import xlsx_response
from app.web.outcomes import explain

PENDING = "people_import"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STALE_SECONDS = 24 * 3600


@bp.route("/people/import", methods=["GET", "POST"])
@roles_required(Role.CITY_ADMIN)
def people_import() -> Any:
    """The upload page; a posted .xlsx is kept for the preview."""
    if request.method == "GET":
        return render_template("admin/people_import.html", pending=session.get(PENDING),
                               limit_mb=MAX_BYTES // (1024 * 1024))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose an .xlsx file to upload."), "error")
        return redirect(url_for("admin.people_import"))
    if not upload.filename.lower().endswith(".xlsx"):
        flash(_("Only Excel workbooks (.xlsx) can be imported; save the file as .xlsx first."),
              "error")
        return redirect(url_for("admin.people_import"))
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        flash(_("The file is larger than %(n)s MB; split it into several files.",
                n=MAX_BYTES // (1024 * 1024)), "error")
        return redirect(url_for("admin.people_import"))
    _discard()
    token = secrets.token_urlsafe(18)
    folder = _folder()
    _sweep(folder)
    (folder / f"{current_user.id}-{token}.xlsx").write_bytes(data)
    session[PENDING] = {"token": token, "name": upload.filename[-200:]}
    return redirect(url_for("admin.people_import_preview"))


@bp.route("/people/import/template.xlsx")
@roles_required(Role.CITY_ADMIN)
def people_import_template() -> Any:
    """The workbook to fill in: a guide, then the 机构, 用户 and 专家 sheets."""
    return xlsx_response(template_xlsx(), "机构用户专家导入模板.xlsx")


@bp.route("/people/import/preview")
@roles_required(Role.CITY_ADMIN)
def people_import_preview() -> Any:
    """Every row checked against the database; nothing is written."""
    path = _pending_path()
    if path is None:
        flash(_("There is no uploaded file waiting; upload one."), "error")
        return redirect(url_for("admin.people_import"))
    try:
        report = check_file(path.read_bytes())
    except PingshenError as exc:
        _discard()
        flash(explain(exc), "error")
        return redirect(url_for("admin.people_import"))
    return render_template("admin/people_import_preview.html", report=report,
                           counts=report.counts(), pending=session[PENDING],
                           changed=[r for r in report.rows if r.status in ("new", "updated")],
                           too_many=_too_many(report.new_accounts))


@bp.route("/people/import/confirm", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def people_import_confirm() -> Any:
    """Import the whole file, or only its valid rows, in one transaction; show new passwords."""
    path = _pending_path()
    if path is None or request.form.get("token") != session[PENDING]["token"]:
        flash(_("There is no uploaded file waiting; upload one."), "error")
        return redirect(url_for("admin.people_import"))
    try:
        report = check_file(path.read_bytes())
        if report.fingerprint() != request.form.get("fingerprint"):
            flash(_("The data changed since the preview; check it again and confirm."), "error")
            return redirect(url_for("admin.people_import_preview"))
        if _too_many(report.new_accounts):
            return redirect(url_for("admin.people_import_preview"))  # it says why
        outcome = apply_import(report, valid_only=request.form.get("mode") == "valid")
        db.session.commit()
    except (PingshenError, IntegrityError) as exc:
        db.session.rollback()
        flash(explain(exc) if isinstance(exc, PingshenError) else
              _("Someone changed the same organisations or users meanwhile; check again."),
              "error")
        return redirect(url_for("admin.people_import_preview"))
    current_app.logger.info("people import by %s: %s", current_user.username, summary(outcome))
    name = session[PENDING]["name"]
    _discard()
    response = current_app.make_response(render_template(
        "admin/people_import_result.html", outcome=outcome, name=name,
        counts=outcome.report.counts(), role_label=role_label))
    response.headers["Cache-Control"] = "private, no-store"  # it shows passwords once
    return response


@bp.route("/people/import/cancel", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def people_import_cancel() -> Any:
    """Drop the waiting file."""
    _discard()
    flash(_("The import has been cancelled; nothing was written."), "info")
    return redirect(url_for("admin.people_import"))


@bp.route("/people/import/credentials.xlsx", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def people_import_credentials() -> Any:
    """The passwords shown on the result page, as a workbook (built from the page, not kept)."""
    form = request.form
    credentials = [Credential(*row) for row in zip(
        form.getlist("username"), form.getlist("name"), form.getlist("role"),
        form.getlist("org"), form.getlist("password"), strict=False)
        if row[4] and row[2] in {r.value for r in Role}]
    return xlsx_response(credentials_xlsx(credentials), "初始密码.xlsx")


def _too_many(new_accounts: int) -> bool:
    """Whether a file creates more accounts than one web request may hash in time."""
    return new_accounts > current_app.config["IMPORT_WEB_MAX_NEW_USERS"]


def _folder() -> Path:
    """Where uploaded files wait for confirmation."""
    folder = Path(current_app.config["IMPORT_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _pending_path() -> Path | None:
    """The current user's waiting file, if the session holds one that still exists."""
    pending = session.get(PENDING)
    if not pending or not TOKEN.match(str(pending.get("token", ""))):
        return None
    path = _folder() / f"{current_user.id}-{pending['token']}.xlsx"
    return path if path.is_file() else None


def _discard() -> None:
    """Delete the current user's waiting file and forget it."""
    path = _pending_path()
    if path is not None:
        path.unlink(missing_ok=True)
    session.pop(PENDING, None)


def _sweep(folder: Path) -> None:
    """Delete waiting files nobody confirmed within a day."""
    cutoff = time.time() - STALE_SECONDS
    for path in folder.glob("*.xlsx"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
