"""The applicant's home: their applications with what to do next, and the calls to apply to."""

from __future__ import annotations

from secrets import token_urlsafe
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from app.blueprints.applications.presenters import state_label
from app.engine.definitions import Programme
from app.extensions import db
from app.i18n import localised
from app.models import Application, Call, Role
from app.models.base import utcnow
from app.services.applications import create_application, visible_applications
from app.services.calls import open_calls
from app.services.programmes import programme_of
from app.services.timers import deadline_of
from app.web.access import roles_required
from app.web.filters import local_time

bp = Blueprint("applicant", __name__)


@bp.route("/")
@roles_required(Role.APPLICANT)
def home() -> Any:
    """List my applications (with the next thing to do) and the calls open now."""
    page = db.paginate(visible_applications(current_user), per_page=50, error_out=False)
    now = utcnow()
    rows = [(app, programme_of(app)) for app in page.items]
    calls = open_calls(now)
    return render_template("applicant/home.html", page=page, now=now,
                           rows=[(a, p, *next_step(a, p, now)) for a, p in rows],
                           calls=calls, mine=_entries_per_call(),
                           start_keys={call.id: token_urlsafe(16) for call in calls})


@bp.route("/calls/<int:call_id>/apply", methods=["POST"])
@roles_required(Role.APPLICANT)
def apply(call_id: int) -> Any:
    """Start a draft in a call and go straight to its form.

    The form's one-time key makes a double click or a resent form open the draft the first
    one started.
    """
    call = db.get_or_404(Call, call_id)
    key = request.form.get("start_key", "").strip()[:64] or None
    application = create_application(call, current_user, key=key)
    db.session.commit()
    flash(_("Your application has been started. Fill in the form; you can save and come "
            "back at any time."), "success")
    return redirect(url_for("applications.edit", application_id=application.id))


def next_step(application: Application, programme: Programme, now: Any) -> tuple[str, str]:
    """What the applicant should do next, as (kind, sentence); kind is todo|wait|done."""
    state = programme.states[application.state]
    if state["fill"]:  # a stage report (annual tracking, acceptance…) is due from the applicant
        sections = "、".join(localised(section, "title") for section
                            in programme.form_in(application.state).raw["sections"])
        found = deadline_of(application)
        if found is None:
            return "todo", _("Fill in %(sections)s and submit it.", sections=sections)
        return "todo", _("Fill in %(sections)s and submit it by %(when)s.", sections=sections,
                         when=local_time(found[0]))
    if state["editable"]:
        if not application.call.is_open(now):
            return "wait", _("The call has closed; your draft is kept.")
        if application.state != programme.initial:
            return "todo", _("Returned to you: read the reason, correct and resubmit.")
        return "todo", _("Complete the form and submit it by %(when)s, when the call closes.",
                         when=local_time(application.call.closes_at))
    if state["final"]:
        if state["outcome"] == "awarded":
            return "done", _("Awarded. The certificate can be downloaded.")
        return "done", _("Finished.")
    return "wait", _("Nothing to do now. The entry is being handled at: %(state)s.",
                     state=state_label(programme, application.state))


def _entries_per_call() -> dict[int, int]:
    """How many applications I already have in each call."""
    rows = db.session.execute(select(Application.call_id, func.count())
                              .where(Application.applicant_id == current_user.id)
                              .group_by(Application.call_id)).all()
    return dict(rows)

