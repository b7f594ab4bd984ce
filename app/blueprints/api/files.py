"""Attachments (multipart upload, download, delete) and certificates (PDF, public facts)."""

from __future__ import annotations

from typing import Any, BinaryIO, cast

from flask import request, send_file
from werkzeug.datastructures import FileStorage

from app.blueprints.api.common import (
    MalformedRequest,
    api_user,
    bp,
    editable_application,
    find,
    get_or_404,
    json_body,
    no_content,
    public,
    require_role,
    viewable_application,
)
from app.blueprints.api.serializers import (
    attachment_json,
    certificate_facts,
    certificate_json,
    job_json,
)
from app.engine.errors import Conflict, Forbidden, NotFound, PingshenError
from app.extensions import db
from app.i18n import zh
from app.models import Application, Attachment, Call, Certificate, Job, Role
from app.services import certificates, verification
from app.services.attachments import attachment_path, delete_attachment, store_attachment
from app.services.blind import entry_view
from app.services.certificate_files import call_zip, log_download
from app.services.certificate_jobs import PRINT, start_issue_job, start_print_job
from app.services.certificates import certificate_pdf
from app.services.dossiers import recommended_zip
from app.services.export_jobs import job_download, may_follow
from app.web.downloads import zip_response


@bp.post("/applications/<int:application_id>/attachments")
def upload_attachments(application_id: int) -> Any:
    """Store the uploaded files; each multipart field name is a file field key of the form."""
    application = editable_application(application_id)
    uploads = [(key, file) for key, files in request.files.lists() for file in files
               if file.filename]
    if not uploads:
        raise MalformedRequest(zh("请以 multipart/form-data 上传至少一个文件，字段名为表单中的附"
                                  "件项"),
                               {"files": zh("此项为必填项")})
    stored = _store_all(application, uploads)
    db.session.commit()
    return [attachment_json(attachment) for attachment in stored], 201


@bp.get("/applications/<int:application_id>/attachments/<int:attachment_id>")
def download_attachment(application_id: int, attachment_id: int) -> Any:
    """Send an attachment to someone who may see its application."""
    application = viewable_application(application_id)
    attachment = _attachment(application, attachment_id)
    view = entry_view(application, api_user())
    if view.withholds(attachment):  # an identifying file, for an expert reviewing blind
        raise NotFound(zh("附件不存在"), {"attachment_id": attachment_id})
    name = view.file_name(attachment)
    return send_file(attachment_path(attachment), mimetype=attachment.content_type,
                     as_attachment=True, download_name=name)


@bp.delete("/applications/<int:application_id>/attachments/<int:attachment_id>")
def remove_attachment(application_id: int, attachment_id: int) -> Any:
    """Delete an attachment while the application is editable (its applicant)."""
    attachment = _attachment(editable_application(application_id), attachment_id)
    delete_attachment(attachment, api_user())
    db.session.commit()
    return no_content()


@bp.get("/applications/<int:application_id>/certificates/<int:certificate_id>/pdf",
        endpoint="certificate_pdf")
def certificate_pdf_file(application_id: int, certificate_id: int) -> Any:
    """The certificate PDF, for those who may see the application."""
    application = viewable_application(application_id)
    certificate = find(Certificate, certificate_id)
    if certificate is None or certificate.application_id != application.id:
        raise NotFound(zh("证书不存在"), {"certificate_id": certificate_id})
    if certificate.status != "valid" and api_user().role != Role.CITY_ADMIN:
        raise Conflict(zh("该证书已撤销或已被替换"), {"status": certificate.status})
    path = certificate_pdf(certificate)
    log_download("pdf", api_user(), certificate=certificate)
    db.session.commit()
    return send_file(path, mimetype="application/pdf",
                     download_name=f"{certificate.serial}.pdf")


@bp.get("/certificates/<code>")
@public
def verify_certificate(code: str) -> Any:
    """Public verification: a certificate's printed facts and its status (logged, rate-limited)."""
    lookup = verification.by_code(code, request.remote_addr or "")
    db.session.commit()  # the log entry, whatever was found
    if lookup.certificate is None:
        raise NotFound(zh("未找到该证书，请核对验证码"), {"code": code[:64]})
    return certificate_facts(lookup.certificate, lookup.replacement)


@bp.post("/certificates/<int:certificate_id>/revoke")
def revoke_certificate(certificate_id: int) -> Any:
    """Revoke a certificate with a reason (city administrators)."""
    user = require_role(Role.CITY_ADMIN)
    certificate = get_or_404(Certificate, certificate_id, zh("证书不存在"))
    body = json_body({"reason": "string"})
    certificates.revoke_certificate(certificate, user, body["reason"])
    db.session.commit()
    return certificate_json(certificate)


@bp.post("/certificates/<int:certificate_id>/reissue")
def reissue_certificate(certificate_id: int) -> Any:
    """Replace a certificate (a corrected holder, say): new serial and code (city)."""
    user = require_role(Role.CITY_ADMIN)
    certificate = get_or_404(Certificate, certificate_id, zh("证书不存在"))
    body = json_body({"reason": "string"}, {"holder": "string"})
    replacement = certificates.reissue_certificate(certificate, user, body["reason"],
                                                   body.get("holder"))
    db.session.commit()
    return certificate_json(replacement), 201


def _store_all(application: Application, uploads: list[tuple[str, FileStorage]]
               ) -> list[Attachment]:
    """Store every file, or none: when one is refused, the files already written are removed."""
    stored: list[Attachment] = []
    try:
        for key, file in uploads:
            stream = cast(BinaryIO, file.stream)
            stored.append(store_attachment(application, key, file.filename or "", stream,
                                           api_user()))
    except PingshenError:
        for attachment in stored:
            attachment_path(attachment).unlink(missing_ok=True)
        raise
    return stored


def _attachment(application: Application, attachment_id: int) -> Attachment:
    """An attachment of this application, or 404."""
    attachment = find(Attachment, attachment_id)
    if attachment is None or attachment.application_id != application.id:
        raise NotFound(zh("附件不存在"), {"attachment_id": attachment_id})
    return attachment


@bp.get("/calls/<int:call_id>/certificates.zip")
def call_certificates_zip(call_id: int) -> Any:
    """Every valid certificate of the call as PDFs in one ZIP (city administrators)."""
    user = require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    data = call_zip(call, user)
    db.session.commit()
    return zip_response(data, f"{call.title}-证书.zip")


@bp.post("/calls/<int:call_id>/certificates/issue")
def issue_call_certificates(call_id: int) -> Any:
    """Issue every awarded entry's certificate in the background; 202 with the job (city).

    While a job of the call runs, the same job is returned.
    """
    user = require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    record = start_issue_job(call, user)
    db.session.commit()
    return job_json(record), 202, {"Location": f"/api/v1/jobs/{record.id}"}


@bp.get("/jobs/<int:job_id>")
def job(job_id: int) -> Any:
    """A background job's status and progress (the city; a district administrator their
    district's export jobs)."""
    return job_json(_followed_job(job_id))


@bp.get("/calls/<int:call_id>/recommended.zip")
def call_recommended_dossiers(call_id: int) -> Any:
    """The dossiers of the entries recommended to a higher level (city)."""
    user = require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    return zip_response(recommended_zip(call, user), f"{call.title}-上级推荐材料.zip")


@bp.post("/calls/<int:call_id>/certificates/print")
def print_call_certificates(call_id: int) -> Any:
    """Draw one print-ready PDF of the call's valid certificates in the background; 202 with
    the job (city). Body: {"order": "serial" | "district"} (optional)."""
    user = require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    body = json_body({}, {"order": "string"}) if request.get_data() else {}
    record = start_print_job(call, user, body.get("order", "serial"))
    db.session.commit()
    return job_json(record), 202, {"Location": f"/api/v1/jobs/{record.id}"}


@bp.get("/jobs/<int:job_id>/file")
def job_file(job_id: int) -> Any:
    """The file of a finished job: a print run's PDF (logged as handed out), a ZIP of
    dossiers, a big call's applications workbook."""
    record = _followed_job(job_id)
    found = job_download(record)
    if record.kind == PRINT:
        log_download("print", api_user(), call=db.session.get(Call, record.call_id or 0),
                     count=record.total)
        db.session.commit()
    response = send_file(found.path, as_attachment=True, download_name=found.name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _followed_job(job_id: int) -> Job:
    """A job (404) the caller may follow (403): the city's every job, a district
    administrator's their district's export jobs."""
    user = require_role(Role.CITY_ADMIN, Role.DISTRICT_ADMIN)
    record = get_or_404(Job, job_id, zh("任务不存在"))
    if not may_follow(record, user):
        raise Forbidden(zh("您无权查看该任务"), {"job_id": job_id})
    return record
