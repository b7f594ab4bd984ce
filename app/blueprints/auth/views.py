"""Log in, log out, change password, choose the language."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.blueprints.auth.forms import LoginForm, PasswordForm
from app.engine.errors import ValidationFailed
from app.extensions import db
from app.i18n import COOKIE
from app.services.accounts import TooManyAttempts, authenticate, change_password

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
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong username or password."), "error")
        status = 401
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # type: ignore[no-untyped-def]
    """End the session."""
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


@bp.route("/language/<code>", methods=["POST"])
def language(code: str):  # type: ignore[no-untyped-def]
    """Remember the chosen language in a cookie."""
    response = make_response(redirect(_safe_next(request.form.get("next"))))
    if code in ("zh_CN", "en"):
        response.set_cookie(COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def _safe_next(target: str | None) -> str:
    """Only redirect to a path on this site."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc:
        return target
    return url_for("public.home")
