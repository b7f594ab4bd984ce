"""Log in, log out, change or reset a forgotten password, choose the language."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.blueprints.auth.forms import ForgotForm, LoginForm, PasswordForm, ResetForm
from app.engine.errors import ValidationFailed
from app.extensions import db
from app.i18n import COOKIE, LOCALES
from app.models import EventKind, User
from app.services.accounts import TooManyAttempts, authenticate, change_password
from app.services.password_reset import request_reset, user_for_link
from app.services.password_reset import reset_password as spend_link
from app.services.security_events import record_event
from app.services.totp import must_enrol

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Show the login form and log the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("public.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data or "", form.password.data or "",
                                request.remote_addr or "")
        except TooManyAttempts as exc:
            db.session.commit()
            flash(exc.message, "error")
            return render_template("auth/login.html", form=form), 429
        db.session.commit()
        if user is not None:
            return start_login(user, _safe_next(request.args.get("next")))
        flash(_("Wrong username or password."), "error")
        status = 401
    return render_template("auth/login.html", form=form), status


def start_login(user: User, target: str) -> Any:
    """After the password: log in, or ask for the second factor (or its set-up) first."""
    from app.blueprints.auth.second_factor import ask_second_factor

    if user.has_totp or must_enrol(user):
        return ask_second_factor(user, target)
    return finish_login(user, target, "")


def finish_login(user: User, target: str, factor: str) -> Any:
    """Log the user in and record it (`factor`: "totp", "recovery", "enrolled" or "")."""
    login_user(user)
    record_event(EventKind.LOGIN, user, second_factor=factor)
    db.session.commit()
    return redirect(target)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # type: ignore[no-untyped-def]
    """End the session."""
    record_event(EventKind.LOGOUT, current_user)
    db.session.commit()
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():  # type: ignore[no-untyped-def]
    """Change one's own password; other sessions end."""
    form = PasswordForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data or ""):
            form.current.errors = [_("The current password is wrong.")]
        else:
            try:
                change_password(current_user, form.new.data or "")
            except ValidationFailed as exc:
                form.new.errors = [exc.message]
            else:
                db.session.commit()
                login_user(current_user)
                flash(_("Your password has been changed."), "info")
                return redirect(url_for("public.home"))
    return render_template("auth/password.html", form=form)


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():  # type: ignore[no-untyped-def]
    """Ask for a reset link; the answer is the same whether the account exists or not."""
    form = ForgotForm()
    if form.validate_on_submit():
        request_reset(form.identifier.data or "")
        db.session.commit()
        flash(_("If the account has an e-mail address, a link to set a new password is on its "
                "way; it is valid for an hour. No e-mail? Ask your administrator to reset the "
                "password."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):  # type: ignore[no-untyped-def]
    """Set a new password from an e-mailed link; every session of the account ends."""
    if user_for_link(token) is None:
        return render_template("auth/reset.html", form=None), 410
    form = ResetForm()
    if form.validate_on_submit():
        try:
            spend_link(token, form.new.data or "")
        except ValidationFailed as exc:
            db.session.rollback()
            form.new.errors = [exc.message]
        else:
            db.session.commit()
            flash(_("Your password has been set. Log in with it."), "info")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form), 422 if form.errors else 200


@bp.route("/language/<code>", methods=["POST"])
def language(code: str):  # type: ignore[no-untyped-def]
    """Remember the chosen language in a cookie, and for a logged-in user also on the account:
    the language of their inbox messages and e-mail."""
    response = make_response(redirect(_safe_next(request.form.get("next"))))
    if code in LOCALES:
        response.set_cookie(COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True)
        if current_user.is_authenticated and current_user.locale != code:
            current_user.locale = code
            db.session.commit()
    return response


def _safe_next(target: str | None) -> str:
    """Only redirect to a path on this site."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc:
        return target
    return url_for("public.home")


from app.blueprints.auth import second_factor  # noqa: E402,F401  (routes on bp)
