"""Certificates of a call: status, lookups, revoking and reissuing (city administrators)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from app.blueprints.admin.views import bp
from app.blueprints.api.serializers import job_json
from app.extensions import db
from app.models import (
    Application,
    Call,
    Certificate,
    CertificateDownload,
    Job,
    Role,
    User,
    VerificationLog,
)
from app.models.base import contains, utcnow
from app.services.certificate_files import call_zip, log_download
from app.services.certificate_jobs import (
    PRINT,
    awarded_entries,
    latest_job,
    print_file,
    start_issue_job,
    start_print_job,
)
from app.services.certificates import reissue_certificate, revoke_certificate
from app.services.verification import counts
from app.web.access import roles_required
from app.web.downloads import pdf_file_response, zip_response
from app.web.outcomes import act_and_return, download_or_return

PER_PAGE = 50


@bp.route("/calls/<int:call_id>/certificates")
@roles_required(Role.CITY_ADMIN)
def call_certificates(call_id: int) -> Any:
    """Every certificate of the call with its status and how often it was looked up."""
    call = db.get_or_404(Call, call_id)
    of_call = (select(Certificate.id).join(Application)
               .where(Application.call_id == call.id))
    total = db.session.scalar(select(func.count()).select_from(of_call.subquery())) or 0
    if request.args.get("status") in ("valid", "revoked", "replaced"):
        of_call = of_call.where(Certificate.status == request.args["status"])
    if needle := request.args.get("q", "").strip():
        of_call = of_call.where(or_(*(contains(column, needle) for column in (
            Certificate.holder, Certificate.organisation, Certificate.serial,
            Application.title))))
    page = db.paginate(of_call.order_by(Certificate.serial), per_page=PER_PAGE,
                       error_out=False)
    lookups = dict(db.session.execute(
        select(VerificationLog.certificate_id, func.count())
        .where(VerificationLog.certificate_id.in_(page.items))
        .group_by(VerificationLog.certificate_id)).all())
    shown = {c.id: c for c in db.session.scalars(
        select(Certificate).where(Certificate.id.in_(page.items)))}
    rows = [(shown[i], lookups.get(i, 0)) for i in page.items]
    downloads = db.session.scalars(select(CertificateDownload).where(
        CertificateDownload.call_id == call.id).order_by(CertificateDownload.id.desc())
        .limit(20)).all()
    return render_template("admin/certificates.html", call=call, rows=rows, downloads=downloads,
                           page=page, total=total, args=request.args,
                           job=latest_job(call), job_view=job_json,
                           print_job=latest_job(call, PRINT),
                           waiting=len(awarded_entries(call)),
                           users={u.id: u for u in db.session.scalars(select(User).where(
                               User.id.in_({d.user_id for d in downloads if d.user_id})))},
                           week=counts(utcnow() - timedelta(days=7)),
                           month=counts(utcnow() - timedelta(days=30)))


@bp.route("/calls/<int:call_id>/certificates/issue", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def issue_certificates(call_id: int) -> Any:
    """Start (or show) the background job that issues the call's certificates."""
    call = db.get_or_404(Call, call_id)
    return act_and_return(lambda: start_issue_job(call, current_user),
                          _("Issuing the certificates in the background; the progress shows "
                            "below."),
                          url_for("admin.call_certificates", call_id=call.id))


@bp.route("/jobs/<int:job_id>")
@roles_required(Role.CITY_ADMIN)
def job_state(job_id: int) -> Any:
    """A background job's progress as JSON, for the progress bar."""
    return job_json(db.get_or_404(Job, job_id))


@bp.route("/calls/<int:call_id>/certificates.zip")
@roles_required(Role.CITY_ADMIN)
def certificates_zip(call_id: int) -> Any:
    """Every valid certificate of the call as PDFs in one ZIP."""
    call = db.get_or_404(Call, call_id)
    return download_or_return(
        lambda: zip_response(call_zip(call, current_user), f"{call.title}-证书.zip"),
        url_for("admin.call_certificates", call_id=call_id))


@bp.route("/calls/<int:call_id>/certificates/print", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def print_certificates(call_id: int) -> Any:
    """Start drawing one print-ready PDF of the call's certificates (order=serial|district)."""
    call = db.get_or_404(Call, call_id)
    return act_and_return(
        lambda: start_print_job(call, current_user, request.form.get("order", "serial")),
        _("Drawing the print file in the background; it can be downloaded here when ready."),
        url_for("admin.call_certificates", call_id=call.id) + "#printing")


@bp.route("/jobs/<int:job_id>/file")
@roles_required(Role.CITY_ADMIN)
def job_file(job_id: int) -> Any:
    """The finished print file of a job (logged as handed out)."""
    record = db.get_or_404(Job, job_id)
    path = print_file(record)
    if record.kind != PRINT or record.status != "done" or not path.exists():
        abort(404)
    call = db.get_or_404(Call, record.call_id)
    log_download("print", current_user, call=call, count=record.total)
    db.session.commit()
    return pdf_file_response(path, f"{call.title}-证书印制.pdf")


@bp.route("/certificates/<int:certificate_id>/revoke", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def revoke(certificate_id: int) -> Any:
    """Revoke a certificate with a reason."""
    certificate = db.get_or_404(Certificate, certificate_id)
    return _act(certificate, lambda: revoke_certificate(certificate, current_user,
                                                        request.form.get("reason", "")),
                _("The certificate %(serial)s is revoked.", serial=certificate.serial))


@bp.route("/certificates/<int:certificate_id>/reissue", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def reissue(certificate_id: int) -> Any:
    """Replace a certificate with a corrected one (new serial and code)."""
    certificate = db.get_or_404(Certificate, certificate_id)
    return _act(certificate, lambda: reissue_certificate(
        certificate, current_user, request.form.get("reason", ""),
        request.form.get("holder") or None),
        _("A new certificate replaces %(serial)s.", serial=certificate.serial))


def _act(certificate: Certificate, action: Any, done: str) -> Any:
    """Run the change and go back to the entry's certificates."""
    return act_and_return(action, done, url_for(
        "applications.detail", application_id=certificate.application_id) + "#certificates")
