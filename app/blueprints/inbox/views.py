"""The inbox (unread first), marking read, and the e-mail preferences of the logged-in user."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.engine.errors import ValidationFailed
from app.extensions import db
from app.i18n import localised
from app.models import Notification
from app.services.inbox import (
    email_events,
    inbox_query,
    mark_all_read,
    mark_read,
    set_email_preferences,
    unread_count,
)
from app.services.message_templates import defaults

bp = Blueprint("inbox", __name__)
PER_PAGE = 20


@bp.app_template_global()
def unread_notifications() -> int:
    """The number beside the bell: the current user's unread messages (one query a request)."""
    if not current_user.is_authenticated:
        return 0
    if "unread_notifications" not in g:
        g.unread_notifications = unread_count(current_user)
    return int(g.unread_notifications)


@bp.route("/")
@login_required
def index() -> Any:
    """The user's messages, unread first, 20 a page."""
    page = db.paginate(inbox_query(current_user), per_page=PER_PAGE, error_out=False)
    return render_template("inbox/index.html", page=page)


@bp.route("/<int:notification_id>/read", methods=["POST"])
@login_required
def read(notification_id: int) -> Any:
    """Mark one message read; with ``open``, go on to the page it is about."""
    notification = db.get_or_404(Notification, notification_id)
    if notification.user_id != current_user.id:
        abort(403)
    mark_read(notification, current_user)
    db.session.commit()
    if request.form.get("open") and _local(notification.link):
        return redirect(notification.link)
    return redirect(url_for(".index", page=request.form.get("page", type=int) or None))


@bp.route("/read-all", methods=["POST"])
@login_required
def read_all() -> Any:
    """Mark every unread message read."""
    marked = mark_all_read(current_user)
    db.session.commit()
    flash(_("%(n)s message(s) marked as read.", n=marked), "success")
    return redirect(url_for(".index"))


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings() -> Any:
    """The user's e-mail address, which notifications also come by e-mail, and the language
    of their messages."""
    offered = [(key, localised(defaults()[key])) for key in email_events(current_user)]
    email, wanted = current_user.email, [key for key, _label in offered
                                         if key not in (current_user.email_opt_out or [])]
    locale = current_user.locale
    error, status = "", 200
    if request.method == "POST":
        email, wanted = request.form.get("email", ""), request.form.getlist("events")
        locale = request.form.get("locale", locale)
        try:
            set_email_preferences(current_user, email, wanted, locale)
        except ValidationFailed as exc:
            db.session.rollback()
            error, status = exc.message, 422
        else:
            db.session.commit()
            flash(_("Your notification settings have been saved."), "success")
            return redirect(url_for(".settings"))
    return render_template("inbox/settings.html", offered=offered, email=email, wanted=wanted,
                           locale=locale, error=error), status


def _local(link: str) -> bool:
    """Only follow links to pages of this site."""
    return link.startswith("/") and not link.startswith("//")
