"""The second factor: the code step of a login, setting up TOTP, and turning it off.

Between the password and the code the session holds a pending login (the account's session
id, when and where to go next), never a login: no page that needs one opens with it.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.blueprints.auth.forms import CodeForm
from app.blueprints.auth.views import bp, finish_login
from app.certificates.render import qr_svg
from app.engine.errors import ValidationFailed
from app.extensions import db
from app.models import User
from app.services.accounts import (
    TooManyAttempts,
    authenticate,
    check_second_factor,
    user_by_session_id,
)
from app.services.totp import (
    ADMINS,
    confirm_enrolment,
    disable_totp,
    must_enrol,
    provisioning_uri,
    start_enrolment,
)

PENDING = "pending_login"
PENDING_SECONDS = 300  # the code must follow the password within five minutes


def ask_second_factor(user: User, target: str) -> Any:
    """Remember the half-done login and ask for the code (or for setting one up)."""
    session[PENDING] = {"id": user.get_id(), "at": int(time.time()), "next": target}
    if not user.has_totp:
        start_enrolment(user)
        db.session.commit()
        return redirect(url_for("auth.login_enrol"))
    return redirect(url_for("auth.login_code"))


def _pending_user() -> User | None:
    """The account whose password was given in this session in the last five minutes."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = user_by_session_id(str(pending.get("id", "")))
    return user if user is not None and user.active else None


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    """Second step of a login: a code from the app or a recovery code, limited like passwords."""
    user = _pending_user()
    if user is None or not user.has_totp:
        session.pop(PENDING, None)
        flash(_("Please log in again."), "error")
        return redirect(url_for("auth.login"))
    form, status = CodeForm(), 200
    if form.validate_on_submit():
        try:
            used = check_second_factor(user, form.code.data or "", request.remote_addr or "")
        except TooManyAttempts as exc:
            db.session.commit()
            session.pop(PENDING, None)
            flash(exc.message, "error")
            return redirect(url_for("auth.login"))
        db.session.commit()
        if used is not None:
            target = session.pop(PENDING)["next"]
            return finish_login(user, target, used)
        form.code.errors = [_("The code is wrong or has already been used.")]
        status = 401
    return render_template("auth/code.html", form=form), status


@bp.route("/login/enrol", methods=["GET", "POST"])
def login_enrol() -> Any:
    """An administrator who must have a second factor sets it up before the login completes."""
    user = _pending_user()
    if user is None or not must_enrol(user) or user.totp_secret is None:
        session.pop(PENDING, None)
        flash(_("Please log in again."), "error")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = confirm_enrolment(user, form.code.data or "")
        except ValidationFailed as exc:
            db.session.commit()  # the failed code stays on record
            form.code.errors = [exc.message]
        else:
            target = session.pop(PENDING)["next"]
            finish_login(user, target, "enrolled")
            return _recovery_codes(codes, target)
    return _no_store(render_template("auth/enrol.html", form=form, forced=True,
                                     qr=qr_svg(provisioning_uri(user)), secret=user.totp_secret),
                     422 if form.errors else 200)


@bp.route("/account/totp", methods=["GET", "POST"])
@login_required
def account_totp() -> Any:
    """One's own second factor: set it up (start, then confirm with a code) or turn it off."""
    user: User = current_user
    form = CodeForm()
    action = request.form.get("action", "")
    if request.method == "POST" and action == "start":  # CSRF is checked for every POST
        # The password again (counted like a login): a session left open is not enough to
        # put someone else's phone on the account (ASVS 7.5.1).
        try:
            again = authenticate(user.username, request.form.get("password", ""),
                                 request.remote_addr or "")
        except TooManyAttempts as exc:
            again, wrong = None, exc.message
        else:
            wrong = _("The password is wrong.")
        db.session.commit()
        if again is None:
            flash(wrong, "error")
            return redirect(url_for("auth.account_totp"))
        start_enrolment(user)
        db.session.commit()
        return redirect(url_for("auth.account_totp"))
    if request.method == "POST" and action in ("confirm", "disable") and form.validate():
        try:
            if action == "confirm":
                codes = confirm_enrolment(user, form.code.data or "")
                db.session.commit()
                return _recovery_codes(codes, url_for("auth.account_totp"))
            if check_second_factor(user, form.code.data or "", request.remote_addr or "") \
                    is None:
                db.session.commit()
                raise ValidationFailed(_("The code is wrong or has already been used."))
            disable_totp(user, user)
            db.session.commit()
            flash(_("Two-step verification is off."), "info")
            return redirect(url_for("auth.account_totp"))
        except (ValidationFailed, TooManyAttempts) as exc:
            db.session.commit()  # failed codes are counted and recorded
            form.code.errors = [exc.message]
    if not user.has_totp and user.totp_secret is not None:
        return _no_store(render_template("auth/enrol.html", form=form, forced=False,
                                         qr=qr_svg(provisioning_uri(user)),
                                         secret=user.totp_secret), 422 if form.errors else 200)
    required = current_app.config["REQUIRE_TOTP_FOR_ADMINS"] and user.role in ADMINS
    return render_template("auth/totp.html", form=form, user=user, required=required), \
        422 if form.errors else 200


def _recovery_codes(codes: list[str], target: str) -> Any:
    """Show the recovery codes, once, never cached."""
    return _no_store(render_template("auth/recovery_codes.html", codes=codes, target=target), 200)


def _no_store(body: str, status: int) -> Any:
    """A page holding a secret: never stored by the browser or a proxy."""
    response = current_app.make_response((body, status))
    response.headers["Cache-Control"] = "no-store"
    return response
