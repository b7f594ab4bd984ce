"""Users for the city administrator: the list, a user's profile, disabling, password resets."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.blueprints.admin.people_forms import UserForm, kind_label
from app.blueprints.admin.views import bp
from app.engine.errors import PingshenError, ValidationFailed
from app.extensions import db
from app.i18n import role_label, zh
from app.models import Organisation, OrgKind, Role, User
from app.services.people import (
    SORTS,
    UserFilter,
    reset_password,
    set_active,
    update_user,
    users_query,
)
from app.web.access import roles_required
from app.web.outcomes import act_and_return, explain

PER_PAGE = 50
FIELDS = {"name", "role", "org", "email", "phone", "title", "expertise"}


@bp.route("/users")
@roles_required(Role.CITY_ADMIN)
def users() -> Any:
    """Every user, filtered by words, role, organisation (with those below) and status."""
    args = request.args
    chosen = UserFilter(q=args.get("q", ""), role=args.get("role", ""),
                        org_id=args.get("org", type=int), active=args.get("active", ""),
                        sort=args.get("sort", "username"))
    page = db.paginate(users_query(chosen), per_page=PER_PAGE, error_out=False)
    scopes = list(db.session.scalars(select(Organisation).where(
        Organisation.kind != OrgKind.UNIT).order_by(Organisation.code)))
    return render_template("admin/users.html", page=page, chosen=chosen, scopes=scopes,
                           roles=list(Role), sorts=list(SORTS), role_label=role_label)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.CITY_ADMIN)
def user_edit(user_id: int) -> Any:
    """A user's profile: change it, disable or enable the account, reset the password."""
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user) if request.method == "GET" else UserForm()
    if request.method == "GET":
        form.org.data, form.expertise.data = user.org.code, "、".join(user.expertise)
    if form.validate_on_submit():
        org = db.session.scalar(select(Organisation).filter_by(code=form.org.data.strip()))
        try:
            if org is None:
                raise ValidationFailed(zh("机构不存在：%(org_code)s",
                                          org_code=form.org.data), {"org": "unknown"})
            update_user(user, name=form.name.data or "", email=form.email.data or "",
                        phone=form.phone.data or "", title=form.title.data or "",
                        expertise=form.tags(), org=org, role=form.role.data, actor=current_user)
        except PingshenError as exc:
            db.session.rollback()
            _show(form, exc)
        else:
            db.session.commit()
            flash(_("The profile of %(name)s is saved.", name=user.display_name), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    orgs = db.session.execute(select(Organisation.code, Organisation.name)
                              .order_by(Organisation.code)).all()
    return render_template("admin/user.html", user=user, form=form, orgs=orgs,
                           role_label=role_label, kind_label=kind_label), \
        422 if form.errors else 200


def _show(form: UserForm, exc: PingshenError) -> None:
    """Put a refusal beside the field it concerns, or at the top of the page."""
    details = exc.details if isinstance(exc.details, dict) else {}
    key = next((k for k in details if k in FIELDS), None)
    if key is not None:
        getattr(form, key).errors = [exc.message]
    else:
        flash(explain(exc), "error")


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def user_active(user_id: int) -> Any:
    """Disable an account (it cannot log in; its history stays) or enable it again."""
    user = db.get_or_404(User, user_id)
    active = request.form.get("active") == "1"
    done = _("%(name)s can log in again.", name=user.display_name) if active else \
        _("%(name)s can no longer log in; the account's history is kept.", name=user.display_name)
    return act_and_return(lambda: set_active(user, active, current_user), done,
                          url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def user_password(user_id: int) -> Any:
    """Give the user a new one-time password, shown once; their sessions end."""
    user = db.get_or_404(User, user_id)
    try:
        password = reset_password(user, current_user)
    except PingshenError as exc:
        db.session.rollback()
        flash(explain(exc), "error")
        return redirect(url_for("admin.user_edit", user_id=user.id))
    db.session.commit()
    current_app.logger.info("password of %s reset by %s", user.username, current_user.username)
    response = current_app.make_response(render_template(
        "admin/user_password.html", user=user, password=password))
    response.headers["Cache-Control"] = "private, no-store"
    return response
