"""Public pages: the home page and certificate verification (no login needed)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from app.engine.errors import ValidationFailed
from app.extensions import db
from app.models import Role
from app.models.base import utcnow
from app.services import verification
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
