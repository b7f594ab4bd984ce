"""Saving the application form from the edit page: data, uploads, deletions, submission."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import abort, request
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from app.engine.definitions import Programme
from app.engine.errors import GuardsFailed, ValidationFailed
from app.engine.formdata import missing_required
from app.engine.runtime import available_transitions, fire
from app.extensions import db
from app.models import Application, Attachment, User
from app.services.applications import update_data
from app.services.attachments import attachment_counts, delete_attachment, store_attachment
from app.web.dynamic_forms import DynamicForm, form_to_data, version_of


@dataclass
class EditOutcome:
    """What a save did: values not saved, why submission was refused, the move made."""

    errors: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    submitted: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Everything typed was stored and nothing was refused."""
        return not self.errors and not self.reasons


def save_edit(programme: Programme, application: Application, user: User,
              form: DynamicForm) -> EditOutcome:
    """Store what is valid, upload files, delete a file if asked, and submit if asked."""
    outcome = EditOutcome()
    outcome.errors.update(_save_data(programme, application, user, form))
    outcome.errors.update(_store_uploads(programme, application, user, form))
    if request.form.get("delete_attachment"):
        _delete(application, user, request.form["delete_attachment"])
    if request.form.get("action") == "submit" and not outcome.errors:
        _submit(programme, application, user, outcome)
    return outcome


def _save_data(programme: Programme, application: Application, user: User,
               form: DynamicForm) -> dict[str, str]:
    """Save the form; when some values are invalid, save the others and report those."""
    data = form_to_data(programme.form_in(application.state), form)
    try:
        update_data(application, user, data, expected_version=version_of(form))
    except ValidationFailed as exc:
        bad = {str(k): str(v) for k, v in exc.details.items()}
        update_data(application, user, {k: v for k, v in data.items() if k not in bad})
        return bad
    return {}


def _store_uploads(programme: Programme, application: Application, user: User,
                   form: DynamicForm) -> dict[str, str]:
    """Store the files chosen in each file field; a refused file is reported beside its field."""
    errors = {}
    for spec in programme.form_in(application.state).file_fields:
        for upload in _files(form.field_for(spec["key"]).data):
            try:
                store_attachment(application, spec["key"], upload.filename or "",
                                 upload.stream, user)  # type: ignore[arg-type]
            except ValidationFailed as exc:
                errors[spec["key"]] = f"{upload.filename}：{exc.message}"
    return errors


def _files(value: Any) -> list[FileStorage]:
    """The non-empty uploads of a file field (single or multiple)."""
    items = value if isinstance(value, list) else [value]
    return [f for f in items if isinstance(f, FileStorage) and f.filename]


def _delete(application: Application, user: User, attachment_id: str) -> None:
    """Delete one attachment of this application (404 for any other)."""
    attachment = db.session.get(Attachment, int(attachment_id)) \
        if attachment_id.isdigit() else None
    if attachment is None or attachment.application_id != application.id:
        abort(404)
    delete_attachment(attachment, user)


def _submit(programme: Programme, application: Application, user: User,
            outcome: EditOutcome) -> None:
    """Fire the applicant's forward move (submit or resubmit); explain a refusal."""
    forward = [m for m in available_transitions(application, user)
               if not programme.is_final(m.transition["dest"])]
    if not forward:
        outcome.reasons.append(_("This entry cannot be submitted in its current state."))
        return
    try:
        fire(application, forward[0].trigger, user)
    except GuardsFailed as exc:
        outcome.reasons.extend(exc.details.get("reasons", [exc.message]))
        counts = attachment_counts(application)
        outcome.missing = missing_required(programme.form_in(application.state),
                                           application.data or {}, counts)
        return
    outcome.submitted = forward[0].transition
