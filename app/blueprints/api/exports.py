"""A call's exports for city and district administrators (each for their own reach): the
applications with every field, the district summary, the public-notice list, the printed
application (申报书) and the ZIP of dossiers, built by the background worker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request

from app.blueprints.api.common import (
    api_user,
    bp,
    get_or_404,
    json_body,
    require_role,
    viewable_application,
)
from app.blueprints.api.serializers import job_json
from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.i18n import joined, zh
from app.models import Call, Job, Role
from app.services.application_print import application_pdf, may_print
from app.services.applications import ENTRY_SORTS, EntryFilter
from app.services.dossier_jobs import start_dossier_job
from app.services.export_jobs import (
    WorkbookTooBig,
    applications_workbook,
    district_by_code,
    export_name,
    reader_district,
    start_applications_job,
)
from app.services.summary_export import district_summary_xlsx, notice_xlsx
from app.web.downloads import pdf_response, xlsx_response

ADMINS = (Role.CITY_ADMIN, Role.DISTRICT_ADMIN)
FILTERS = ("state", "district", "q", "sort")


@bp.get("/calls/<int:call_id>/applications.xlsx")
def export_applications(call_id: int) -> Any:
    """The call's submitted entries with every form field (a district administrator: their
    district's); ?state= ?district=<code> ?q= ?sort= as on the call page. A big call's
    workbook is not built here: 409 naming the count, the limit and the POST that builds it."""
    user = require_role(*ADMINS)
    call = get_or_404(Call, call_id, "批次不存在")
    try:
        workbook = applications_workbook(call, user, _entry_filter(request.args))
    except WorkbookTooBig as exc:
        raise Conflict(exc.message, {**exc.details, "start": "POST /api/v1/calls/"
                                     f"{call.id}/application-exports"}) from None
    return xlsx_response(workbook, _name(call, "申报信息", "xlsx"))


@bp.post("/calls/<int:call_id>/application-exports")
def start_application_export(call_id: int) -> Any:
    """Build the applications workbook in the background, with the filters of GET
    applications.xlsx in the JSON body (or the query); 202 with the job (while the same
    export runs, that job)."""
    user = require_role(*ADMINS)
    call = get_or_404(Call, call_id, "批次不存在")
    body = json_body({}, dict.fromkeys(FILTERS, "string")) if request.get_data() else {}
    record = start_applications_job(call, user, _entry_filter({**request.args, **body}))
    db.session.commit()
    return _started(record)


@bp.get("/calls/<int:call_id>/summary.xlsx")
def export_summary(call_id: int) -> Any:
    """The district summary table (汇总表): a row per district (a district administrator:
    their own) and the total."""
    user = require_role(*ADMINS)
    call = get_or_404(Call, call_id, "批次不存在")
    return xlsx_response(district_summary_xlsx(call, user), _name(call, "汇总表", "xlsx"))


@bp.get("/calls/<int:call_id>/notice.xlsx")
def export_notice(call_id: int) -> Any:
    """The call's public-notice list (公示名单), as the public page shows it."""
    user = require_role(*ADMINS)
    call = get_or_404(Call, call_id, "批次不存在")
    return xlsx_response(notice_xlsx(call, user), f"{call.title}-公示名单.xlsx")


@bp.get("/applications/<int:application_id>/print.pdf")
def print_application(application_id: int) -> Any:
    """The printed application (申报书): the applicant's copy, or an administrator's with the
    result (and, for the city, the review summary)."""
    application = viewable_application(application_id)
    if not may_print(api_user(), application):
        raise Forbidden(zh("无权打印该申报书"), {"application_id": application_id})
    return pdf_response(application_pdf(application, api_user()),
                        f"{application.id}-{application.title or '申报书'}-申报书.pdf")


@bp.post("/calls/<int:call_id>/dossiers")
def start_dossiers(call_id: int) -> Any:
    """Start building the call's ZIP of dossiers in the background; 202 with the job (while
    one of the call and district runs, that job)."""
    user = require_role(*ADMINS)
    call = get_or_404(Call, call_id, "批次不存在")
    record = start_dossier_job(call, user)
    db.session.commit()
    return _started(record)


def _entry_filter(values: Mapping[str, str]) -> EntryFilter:
    """The filters asked for; district is a district code, sort one of ENTRY_SORTS (422
    otherwise)."""
    code, sort = values.get("district", "").strip(), values.get("sort", "").strip()
    if sort and sort not in ENTRY_SORTS:
        raise ValidationFailed(zh("参数 sort 应为 %(choices)s 之一", choices=joined(ENTRY_SORTS)),
                               {"sort": sort[:40]})
    return EntryFilter(state=values.get("state", "").strip(),
                       district_id=district_by_code(code).id if code else None,
                       q=values.get("q", ""), sort=sort)


def _name(call: Call, what: str, extension: str) -> str:
    """The file name, with the caller's district for a district administrator."""
    return export_name(call, what, extension, reader_district(api_user()))


def _started(record: Job) -> Any:
    """A job started (or running already): 202 with it, and where to follow it."""
    return job_json(record), 202, {"Location": f"/api/v1/jobs/{record.id}"}
