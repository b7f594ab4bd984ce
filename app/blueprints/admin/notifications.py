"""The outbox (every e-mail, its attempts and errors, retry now) and the notification templates."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.admin.views import bp
from app.engine.errors import ValidationFailed
from app.extensions import db
from app.i18n import localised
from app.models import OutboxMessage, Role
from app.services.mail import STATUSES, mail_enabled, outbox_counts, outbox_query, retry_now
from app.services.message_templates import (
    EVENTS,
    PLACEHOLDERS,
    defaults,
    preview,
    reset_wording,
    save_wording,
    wording,
)
from app.web.access import roles_required
from app.web.outcomes import act_and_return

PER_PAGE = 50


@bp.route("/outbox")
@roles_required(Role.CITY_ADMIN)
def outbox() -> Any:
    """Every e-mail, newest first, filtered by status, 50 a page."""
    status = request.args.get("status", "")
    page = db.paginate(outbox_query(status), per_page=PER_PAGE, error_out=False)
    return render_template("admin/outbox.html", page=page, status=status, statuses=STATUSES,
                           counts=outbox_counts(), enabled=mail_enabled(),
                           status_labels={"pending": _("Waiting"), "sending": _("Sending"),
                                          "sent": _("Sent"), "failed": _("Failed")})


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def retry_mail(message_id: int) -> Any:
    """Send a waiting or failed message again now."""
    message = db.get_or_404(OutboxMessage, message_id)
    return act_and_return(lambda: retry_now(message, current_user),
                          _("The message will be sent again now."),
                          url_for(".outbox", status=request.form.get("status") or None))


@bp.route("/notification-templates")
@roles_required(Role.CITY_ADMIN)
def notification_templates() -> Any:
    """Every event with its subject, and whether the city changed the shipped wording."""
    rows = [(key, localised(defaults()[key]), wording(key)) for key in EVENTS]
    return render_template("admin/notification_templates.html", rows=rows)


@bp.route("/notification-templates/<event>", methods=["GET", "POST"])
@roles_required(Role.CITY_ADMIN)
def notification_template(event: str) -> Any:
    """Edit one event's wording: preview it with sample values, or save it."""
    if event not in PLACEHOLDERS:
        abort(404)
    current = wording(event)
    subject, body = current.subject, current.body
    shown: tuple[str, str] | None = None
    errors: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        subject, body = request.form.get("subject", ""), request.form.get("body", "")
        try:
            if request.form.get("action") == "save":
                save_wording(event, subject, body, current_user)
                db.session.commit()
                flash(_("The template has been saved."), "success")
                return redirect(url_for(".notification_template", event=event))
            shown = preview(event, subject, body)
        except ValidationFailed as exc:
            db.session.rollback()
            errors, status = exc.details or {}, 422
    return render_template("admin/notification_template.html", event=event,
                           label=localised(defaults()[event]), subject=subject, body=body,
                           customised=current.customised, shown=shown, errors=errors,
                           placeholders=[(name, placeholder_help(name))
                                         for name in PLACEHOLDERS[event]]), status


@bp.route("/notification-templates/<event>/reset", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def reset_notification_template(event: str) -> Any:
    """Go back to the shipped wording."""
    if event not in PLACEHOLDERS:
        abort(404)
    return act_and_return(lambda: reset_wording(event, current_user),
                          _("The shipped wording is used again."),
                          url_for(".notification_template", event=event))


def placeholder_help(name: str) -> str:
    """What a placeholder is replaced by, for the person editing a template."""
    return {
        "name": _("the recipient's name"), "title": _("the entry's name"),
        "call": _("the call's title"), "programme": _("the programme's title"),
        "unit": _("the applicant's organisation"), "district": _("the entry's district"),
        "state": _("the stage the entry is in now"), "previous": _("the stage it came from"),
        "action": _("the step taken (or the step the system takes at the deadline)"),
        "comment": _("the comment given with the step (无 when there is none)"),
        "round": _("the review round"), "count": _("how many score sheets"),
        "deadline": _("the deadline, Beijing time"),
        "experts": _("the experts with sheets still open, one a line"),
        "award": _("the award on the certificate"), "serial": _("the certificate's serial"),
        "link": _("the full address of the page the message is about"),
    }.get(name, name)
