"""Exports of a call for city and district administrators: the applications with every field,
the district summary (汇总表), the public-notice list, and the ZIP of dossiers (申报书)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.admin.views import bp, entry_filter
from app.blueprints.api.serializers import job_json
from app.engine.errors import PingshenError
from app.extensions import db
from app.models import Call, Job, Role
from app.services.applications import EntryFilter
from app.services.dossier_jobs import APPLICATIONS, latest_dossier_job, may_use, start_dossier_job
from app.services.export_jobs import (
    WorkbookTooBig,
    applications_count,
    applications_workbook,
    built_in_background,
    export_name,
    job_download,
    reader_district,
    start_applications_job,
)
from app.services.summary_export import district_summary_xlsx, notice_xlsx
from app.web.access import roles_required
from app.web.downloads import xlsx_response
from app.web.outcomes import act_and_return, download_or_return

ADMINS = (Role.CITY_ADMIN, Role.DISTRICT_ADMIN)


@bp.route("/calls/<int:call_id>/exports")
@roles_required(*ADMINS)
def call_exports(call_id: int) -> Any:
    """The call's exports, the ZIP of dossiers with its progress, and for a big call (with the
    call page's filters) the form that builds its applications workbook, with its progress."""
    call = db.get_or_404(Call, call_id)
    record = latest_dossier_job(call, current_user)
    workbook = latest_dossier_job(call, current_user, APPLICATIONS)
    district = reader_district(current_user)
    chosen = entry_filter(request.args)
    count = applications_count(call, current_user, chosen)
    return render_template("admin/exports.html", call=call, job=record,
                           progress=job_json(record) if record else None,
                           workbook=workbook,
                           workbook_progress=job_json(workbook) if workbook else None,
                           big=count if built_in_background(count) else None,
                           filters=_filter_args(chosen),
                           district=district.name if district else None)


@bp.route("/calls/<int:call_id>/applications.xlsx")
@roles_required(*ADMINS)
def export_applications(call_id: int) -> Any:
    """The call's submitted entries (the district's own, for a district administrator) with
    every form field; the entries page's filters state, district, q and sort apply. A big
    call's workbook is not built here: this leads to the export page's form that starts it."""
    call = db.get_or_404(Call, call_id)
    chosen = entry_filter(request.args)
    try:
        workbook = applications_workbook(call, current_user, chosen)
    except WorkbookTooBig as exc:
        flash(_("This call has many entries (%(n)s): the applications workbook is put together "
                "in the background. Click “Put the applications workbook together”.",
                n=exc.count), "info")
        return redirect(_exports_url(call, chosen))
    return xlsx_response(workbook, _file_name(call, "申报信息", "xlsx"))


@bp.route("/calls/<int:call_id>/application-exports", methods=["POST"])
@roles_required(*ADMINS)
def start_application_export(call_id: int) -> Any:
    """Start building the applications workbook in the background with the form's filters
    (or show the same one running)."""
    call = db.get_or_404(Call, call_id)
    chosen = entry_filter(request.form)
    return act_and_return(lambda: start_applications_job(call, current_user, chosen),
                          _("The applications workbook is being put together in the "
                            "background; the progress shows below."),
                          _exports_url(call, chosen))


@bp.route("/calls/<int:call_id>/summary.xlsx")
@roles_required(*ADMINS)
def export_summary(call_id: int) -> Any:
    """The district summary table (汇总表): one row per district, and the total."""
    call = db.get_or_404(Call, call_id)
    return xlsx_response(district_summary_xlsx(call, current_user),
                         _file_name(call, "汇总表", "xlsx"))


@bp.route("/calls/<int:call_id>/notice.xlsx")
@roles_required(*ADMINS)
def export_notice(call_id: int) -> Any:
    """The call's public-notice list (公示名单), as the public page shows it."""
    call = db.get_or_404(Call, call_id)
    return download_or_return(
        lambda: xlsx_response(notice_xlsx(call, current_user), f"{call.title}-公示名单.xlsx"),
        url_for("admin.call_exports", call_id=call.id))


@bp.route("/calls/<int:call_id>/dossiers", methods=["POST"])
@roles_required(*ADMINS)
def start_dossiers(call_id: int) -> Any:
    """Start building the ZIP of dossiers in the background (or show the one running)."""
    call = db.get_or_404(Call, call_id)
    return act_and_return(lambda: start_dossier_job(call, current_user),
                          _("The dossiers are being put together in the background; the "
                            "progress shows below."),
                          url_for("admin.call_exports", call_id=call.id) + "#dossiers")


@bp.route("/dossier-jobs/<int:job_id>")
@roles_required(*ADMINS)
def dossier_job(job_id: int) -> Any:
    """A dossier job's progress as JSON, for the progress bar."""
    return job_json(_own_job(job_id))


@bp.route("/dossier-jobs/<int:job_id>/file")
@roles_required(*ADMINS)
def dossier_job_file(job_id: int) -> Any:
    """The finished file of an export job: the ZIP of dossiers, or a big call's workbook."""
    record = _own_job(job_id)
    try:
        found = job_download(record)
    except PingshenError:
        abort(404)
    response = send_file(found.path, as_attachment=True, download_name=found.name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _own_job(job_id: int) -> Job:
    """The export job with this id (404), if the current user may follow it (else 403)."""
    record = db.get_or_404(Job, job_id)
    if not may_use(record, current_user):
        abort(403)
    return record


def _filter_args(chosen: EntryFilter) -> dict[str, Any]:
    """The filters chosen, as the query (or form fields) that ask for them again."""
    return {name: value for name, value in (("state", chosen.state),
                                            ("district", chosen.district_id),
                                            ("q", chosen.q), ("sort", chosen.sort)) if value}


def _exports_url(call: Call, chosen: EntryFilter) -> str:
    """The export page, keeping the filters, at its applications workbook."""
    return url_for("admin.call_exports", call_id=call.id, **_filter_args(chosen)) + \
        "#applications"


def _file_name(call: Call, what: str, extension: str) -> str:
    """``<call>-<what>.<ext>``, with the district for a district administrator's export."""
    return export_name(call, what, extension, reader_district(current_user))
