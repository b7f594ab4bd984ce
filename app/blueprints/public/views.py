"""Public pages: the home page, certificate verification, public notices and objections
(no login needed)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from app.engine.errors import PingshenError, ValidationFailed
from app.extensions import db
from app.models import Application, Role
from app.models.base import utcnow
from app.services import objections, verification
from app.services.calls import open_calls

bp = Blueprint("public", __name__)

HOME_BY_ROLE = {
    Role.APPLICANT: "applicant.home",
    Role.DISTRICT_ADMIN: "district.home",
    Role.CITY_ADMIN: "admin.home",
    Role.EXPERT: "reviewer.queue",
}


@bp.route("/")
def home():  # type: ignore[no-untyped-def]
    """Send users to their role's home; show open calls to everyone else."""
    if current_user.is_authenticated:
        return redirect(url_for(HOME_BY_ROLE[Role(current_user.role)]))
    return render_template("public/home.html", calls=open_calls(utcnow()))


@bp.route("/verify/<code>")
def verify(code: str):  # type: ignore[no-untyped-def]
    """Show whether a certificate is genuine, with only its printed facts and its status."""
    lookup = verification.by_code(code, request.remote_addr or "")
    db.session.commit()  # the log entry
    status = 200 if lookup.certificate is not None else 404
    return render_template("public/verify.html", lookup=lookup, searched=True), status


@bp.route("/verify")
def verify_search():  # type: ignore[no-untyped-def]
    """Find a certificate by its serial number and holder (both as printed)."""
    serial, holder = request.args.get("serial", ""), request.args.get("holder", "")
    if not serial and not holder:
        return render_template("public/verify.html", lookup=None, searched=False)
    try:
        lookup = verification.by_serial(serial, holder, request.remote_addr or "")
    except ValidationFailed as exc:
        return render_template("public/verify.html", lookup=None, searched=False,
                               errors=exc.details, serial=serial, holder=holder), 422
    db.session.commit()
    status = 200 if lookup.certificate is not None else 404
    return render_template("public/verify.html", lookup=lookup, searched=True, serial=serial,
                           holder=holder), status


@bp.route("/notices")
def notices_page():  # type: ignore[no-untyped-def]
    """The entries in public notice (公示), per call, with the period and how to object."""
    return render_template("public/notices.html", lists=objections.notices())


@bp.route("/notices/<int:application_id>/objection", methods=["GET", "POST"])
def objection_form(application_id: int):  # type: ignore[no-untyped-def]
    """Raise an objection against an entry in public notice (anyone; a receipt is given)."""
    application = db.get_or_404(Application, application_id)
    notice = objections.notice_of(application)
    if notice is None:
        abort(404)
    fields = {"name": "", "contact": "", "reason": ""}
    if request.method == "POST":
        fields = {k: request.form.get(k, "") for k in fields}
        upload = request.files.get("evidence")
        evidence = (upload.filename or "", upload.stream) if upload and upload.filename else None
        try:
            objection = objections.submit_objection(application, **fields, evidence=evidence,
                                                    address=request.remote_addr or "")
        except PingshenError as exc:
            db.session.rollback()
            return render_template("public/objection.html", application=application,
                                   notice=notice, values=fields, errors=exc.details or {},
                                   message=exc.message), exc.status
        db.session.commit()
        return redirect(url_for("public.objection_status", receipt=objection.receipt,
                                new=1))
    return render_template("public/objection.html", application=application, notice=notice,
                           values=fields, errors={}, message=None)


@bp.route("/notices/objections/<receipt>")
def objection_status(receipt: str):  # type: ignore[no-untyped-def]
    """What became of an objection: read with its receipt code only."""
    objection = objections.by_receipt(receipt)
    if objection is None:
        abort(404)
    return render_template("public/objection_status.html", objection=objection,
                           new=request.args.get("new") == "1")
