"""One application: its page, its form, its moves, its files and its certificates."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.blueprints.applications.editing import save_edit
from app.blueprints.applications.forms import edit_form, transition_form
from app.blueprints.applications.presenters import detail_context, localised_label
from app.blueprints.district.views import quota_use
from app.engine.errors import Conflict, GuardsFailed, ValidationFailed
from app.engine.runtime import Availability, available_transitions, fire
from app.extensions import db
from app.models import Application, Attachment, Certificate, Role
from app.permissions import can_edit_application
from app.services.application_print import application_pdf, may_print
from app.services.attachments import attachment_path
from app.services.blind import entry_view
from app.services.certificate_files import log_download
from app.services.certificates import certificate_pdf
from app.services.programmes import programme_of
from app.web.access import load_application, roles_required
from app.web.downloads import pdf_response
from app.web.dynamic_forms import apply_errors, field_attrs, form_to_data, version_of

bp = Blueprint("applications", __name__)
bp.add_app_template_global(field_attrs, "field_attrs")


@bp.route("/<int:application_id>")
@login_required
def detail(application_id: int) -> Any:
    """Show an application to anyone who may see it, with the moves open to them."""
    application = load_application(application_id)
    return render_template("applications/detail.html",
                           **detail_context(application, current_user))


@bp.route("/<int:application_id>/print.pdf")
@login_required
def print_pdf(application_id: int) -> Any:
    """The printed application (申报书) as a PDF: the applicant's own, or an administrator's
    copy with the result (and, for the city, the review summary)."""
    application = load_application(application_id)
    if not may_print(current_user, application):
        abort(403)
    return pdf_response(application_pdf(application, current_user),
                        f"{application.id}-{application.title or '申报书'}-申报书.pdf",
                        inline=request.args.get("view") == "1")


@bp.route("/<int:application_id>/edit", methods=["GET", "POST"])
@roles_required(Role.APPLICANT)
def edit(application_id: int) -> Any:
    """Fill in the form: save a draft (valid parts kept), upload files, submit."""
    application = load_application(application_id)
    if not can_edit_application(current_user, application):
        abort(403)
    programme = programme_of(application)
    form = edit_form(programme, application)
    if not form.is_submitted():
        return _edit_page(application, form)
    try:
        outcome = save_edit(programme, application, current_user, form)
    except Conflict as exc:
        db.session.rollback()
        return _edit_page(application, form, conflict=exc.message), 409
    db.session.commit()
    if outcome.ok:
        flash(_("Submitted.") if outcome.submitted else _("Draft saved."), "success")
        target = "detail" if outcome.submitted else "edit"
        return redirect(url_for(f"applications.{target}", application_id=application.id))
    apply_errors(form, {**outcome.missing, **outcome.errors})
    form.expected_version.data = str(application.version)
    return _edit_page(application, form, reasons=outcome.reasons, not_saved=outcome.errors,
                      wanted_submit=request.form.get("action") == "submit"), 422


def _edit_page(application: Application, form: Any, **extra: Any) -> str:
    """Render the edit page (the form keeps what was typed)."""
    context = {**detail_context(application, current_user),
               "form_def": programme_of(application).form_in(application.state)}
    return render_template("applications/edit.html", form=form, **context, **extra)


@bp.route("/<int:application_id>/transitions/<trigger>", methods=["GET", "POST"])
@login_required
def transition(application_id: int, trigger: str) -> Any:
    """Show a step's form (GET) or fire the step (POST) with the row version seen."""
    application = load_application(application_id)
    move = _move_for(application, trigger)
    if move is None:
        return _transition_page(application, trigger, None, None,
                                conflict=_("This action is not possible in the current state "
                                           "any more. Someone may have acted meanwhile.")), 409
    programme = programme_of(application)
    form = transition_form(programme, application, move.transition["form"])
    if not form.is_submitted():
        return _transition_page(application, trigger, move, form)
    return _fire(application, move, form)


def _fire(application: Application, move: Availability, form: Any) -> Any:
    """Fire the move; on refusal show the page again with the reasons and what was typed."""
    programme = programme_of(application)
    step = move.transition["form"]
    comment = (form.comment.data or "") if move.transition["comment"] != "none" else ""
    try:
        fire(application, move.trigger, current_user, comment=comment,
             data=form_to_data(programme.forms[step], form) if step else None,
             expected_version=version_of(form))
    except (ValidationFailed, GuardsFailed, Conflict) as exc:
        db.session.rollback()
        unplaced = apply_errors(form, exc.details) if isinstance(exc, ValidationFailed) else {}
        if "comment" in unplaced:  # the engine names the comment "comment"
            form.comment.errors = [str(unplaced.pop("comment"))]
        return _transition_page(application, move.trigger, move, form, error=exc,
                                unplaced=unplaced), exc.status
    db.session.commit()
    flash(_("Done: %(action)s", action=localised_label(move.transition)), "success")
    return redirect(url_for("applications.detail", application_id=application.id))


def _move_for(application: Application, trigger: str) -> Availability | None:
    """The user's move for `trigger` now: 404 unknown, 403 not theirs, None if state moved on."""
    programme = programme_of(application)
    if not programme.has_trigger(trigger):
        abort(404)
    for move in available_transitions(application, current_user):
        if move.trigger == trigger:
            return move
    if programme.transition(trigger, application.state) is not None:
        abort(403)
    if not any(current_user.role in t["roles"] for t in programme.transitions
               if t["trigger"] == trigger):
        abort(403)
    return None


def _transition_page(application: Application, trigger: str, move: Availability | None,
                     form: Any, **extra: Any) -> str:
    """Render the step page."""
    programme = programme_of(application)
    step = programme.forms.get(move.transition["form"]) if move and move.transition["form"] \
        else None
    quota = None
    if move and any(g["name"] == "within_quota" for g in move.transition["guards"]):
        quota = quota_use(application.call, application.district_id)
    return render_template("applications/transition.html", application=application,
                           programme=programme, move=move, form=form, step_def=step,
                           trigger=trigger, quota=quota, **extra)


@bp.route("/<int:application_id>/attachments/<int:attachment_id>")
@login_required
def attachment(application_id: int, attachment_id: int) -> Any:
    """Send an attachment to someone who may see its application, as a download."""
    application = load_application(application_id)
    item = db.get_or_404(Attachment, attachment_id)
    view = entry_view(application, current_user)
    if item.application_id != application.id or not attachment_path(item).exists() \
            or view.withholds(item):  # an identifying file, for an expert reviewing blind
        abort(404)
    inline = request.args.get("view") == "1" and item.content_type == "application/pdf"
    response = send_file(attachment_path(item), mimetype=item.content_type,
                         as_attachment=not inline, download_name=view.file_name(item))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<int:application_id>/certificates/<int:certificate_id>.pdf")
@login_required
def certificate(application_id: int, certificate_id: int) -> Any:
    """Send a certificate's PDF to someone who may see its application."""
    application = load_application(application_id)
    item = db.get_or_404(Certificate, certificate_id)
    if item.application_id != application.id:
        abort(404)
    if item.status != "valid" and current_user.role != Role.CITY_ADMIN:
        abort(410)  # revoked or replaced: only the city keeps a copy for its records
    path = certificate_pdf(item)
    log_download("pdf", current_user, certificate=item)
    db.session.commit()
    response = send_file(path, mimetype="application/pdf",
                         as_attachment=True, download_name=f"{item.serial}.pdf")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
