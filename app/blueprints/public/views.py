"""Public pages: the home page and certificate verification (no login needed)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, Role
from app.models.base import utcnow
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
    """Show whether a certificate is genuine, with only its printed facts."""
    certificate = db.session.scalar(select(Certificate).where(Certificate.code == code[:64]))
    status = 200 if certificate is not None else 404
    return render_template("public/verify.html", certificate=certificate), status
