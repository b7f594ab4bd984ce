"""The expert's queue of assignments and the score sheet beside the entry's materials."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.blueprints.reviewer.forms import ConflictForm, ScoreForm, score_form_class
from app.engine.errors import Conflict, ValidationFailed
from app.extensions import db
from app.models import CallRound, Panel, ReviewAssignment, Role
from app.models.base import utcnow
from app.services.blind import entry_titles, entry_view
from app.services.invitations import pending_for
from app.services.panels import live_panels_of, panel_of
from app.services.programmes import programme_of
from app.services.reviews import (
    assignments_for,
    declare_conflict,
    in_current_round,
    needs_conflict_check,
    next_to_score,
    save_review,
)
from app.web.access import roles_required
from app.web.filters import local_time

bp = Blueprint("reviewer", __name__)


@bp.route("/")
@roles_required(Role.EXPERT)
def queue() -> Any:
    """My assignments, open ones first, with how many I have submitted."""
    assignments = assignments_for(current_user, joinedload(ReviewAssignment.application))
    titles = entry_titles([a.application for a in assignments], current_user)
    active = [a for a in assignments if a.active]
    due = {(r.call_id, r.round): r.deadline for r in db.session.scalars(
        select(CallRound).where(CallRound.deadline.is_not(None), CallRound.closed_at.is_(None),
                                CallRound.call_id.in_({a.application.call_id
                                                       for a in assignments})))}
    now = utcnow()
    rows = [(a, programme_of(a.application), titles[a.application_id],
             due.get((a.application.call_id, a.round))) for a in assignments]
    # what to do first: overdue, then by due date, then the rest; the finished ones last
    rows.sort(key=lambda row: (row[0].locked or not row[0].active, row[3] is None,
                               row[3] or now))
    waiting = [row for row in rows if row[0].active and not row[0].locked]
    return render_template("reviewer/queue.html", rows=rows, now=now,
                           invitations=pending_for(current_user),
                           panels=live_panels_of(current_user),
                           done=sum(a.locked for a in active), total=len(active),
                           overdue=sum(1 for row in waiting if row[3] and row[3] < now),
                           open=len(waiting))


@bp.route("/<int:assignment_id>", methods=["GET", "POST"])
@roles_required(Role.EXPERT)
def sheet(assignment_id: int) -> Any:
    """Score an entry (save a draft or submit); a submitted sheet is shown read-only."""
    assignment = _own_assignment(assignment_id)
    if not assignment.active or needs_conflict_check(assignment):
        return render_template("reviewer/conflict.html", assignment=assignment,
                               form=ConflictForm(),
                               view=entry_view(assignment.application, current_user))
    programme = programme_of(assignment.application)
    rubric = programme.rubrics[assignment.rubric_key]
    form = _score_form(assignment, programme.checksum)
    if not form.is_submitted():
        return _sheet_page(assignment, form)
    action = request.form.get("action")
    submit = action in ("submit", "submit_next")
    autosave = request.headers.get("X-Autosave") == "1" and not submit
    try:
        save_review(assignment, current_user, form.scores(rubric), form.comment.data or "",
                    submit, vetoes=form.veto_keys())
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        if autosave:  # the page keeps what was typed; the expert sees why it was not saved
            return jsonify(error=type(exc).__name__, message=exc.message,
                           details=exc.details or {}), exc.status
        for key, message in (exc.details if isinstance(exc, ValidationFailed) else {}).items():
            target = form._fields.get(key if key in ("comment", "vetoes") else f"criterion_{key}")
            if target is not None:
                target.errors = [message]
        return _sheet_page(assignment, form, error=exc.message), exc.status
    db.session.commit()
    if autosave:
        return jsonify(saved=True, at=local_time(utcnow(), "%H:%M"))
    flash(_("Your scores have been submitted. Thank you.") if submit
          else _("Draft saved. You can change it until you submit."), "success")
    board = _live_panel(assignment)
    if submit and board is not None:
        return redirect(url_for("reviewer.live", panel_id=board.id))
    if action == "submit_next":
        following = next_to_score(current_user)
        if following is not None:
            return redirect(url_for("reviewer.sheet", assignment_id=following.id))
    return redirect(url_for("reviewer.sheet", assignment_id=assignment.id))


@bp.route("/<int:assignment_id>/conflict", methods=["POST"])
@roles_required(Role.EXPERT)
def conflict(assignment_id: int) -> Any:
    """Confirm no conflict of interest (the materials open), or declare one and withdraw."""
    assignment = _own_assignment(assignment_id)
    form = ConflictForm()
    declared = form.answer.data == "declare"
    try:
        declare_conflict(assignment, current_user, declared, form.reason.data or "")
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        if isinstance(exc, ValidationFailed):
            form.reason.errors = [exc.message]
        return render_template("reviewer/conflict.html", assignment=assignment, form=form,
                               view=entry_view(assignment.application, current_user),
                               error=exc.message), exc.status
    db.session.commit()
    if declared:
        flash(_("Your conflict of interest is recorded; the entry will be given to another "
                "expert."), "success")
        return redirect(url_for("reviewer.queue"))
    return redirect(url_for("reviewer.sheet", assignment_id=assignment.id))


def _own_assignment(assignment_id: int) -> ReviewAssignment:
    """Load an assignment of the logged-in expert (403 for anyone else's)."""
    assignment = db.get_or_404(ReviewAssignment, assignment_id)
    if assignment.expert_id != current_user.id:
        abort(403)
    return assignment


def _score_form(assignment: ReviewAssignment, version_key: str) -> ScoreForm:
    """The sheet's form, filled with the saved draft (or with what was just posted)."""
    rubric = programme_of(assignment.application).rubrics[assignment.rubric_key]
    cls = score_form_class(rubric, version_key)
    if request.method == "POST":
        return cls()
    return cls(data={f"criterion_{k}": _decimal(v) for k, v in assignment.scores.items()},
               comment=assignment.comment, vetoes=assignment.vetoes)


def _decimal(value: Any) -> Decimal | None:
    """A stored score as a Decimal for the input."""
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _sheet_page(assignment: ReviewAssignment, form: ScoreForm, **extra: Any) -> str:
    """Render the sheet beside the entry's materials."""
    application = assignment.application
    programme = programme_of(application)
    return render_template(
        "reviewer/sheet.html", assignment=assignment, application=application,
        programme=programme, rubric=programme.rubrics[assignment.rubric_key], form=form,
        form_def=programme.form_shown(application),
        can_score=not assignment.locked and in_current_round(assignment),
        view=entry_view(application, current_user), live_panel=_live_panel(assignment),
        next_assignment=next_to_score(current_user, besides=assignment.id), **extra)


def _live_panel(assignment: ReviewAssignment) -> Panel | None:
    """The expert's panel when the sheet belongs to a live round (the board is home)."""
    review_round = programme_of(assignment.application).review_round(assignment.round)
    if review_round is None or not review_round.live:
        return None
    return panel_of(assignment.application.call_id, assignment.round, current_user)


from app.blueprints.reviewer import live  # noqa: E402,F401  (routes on bp)
