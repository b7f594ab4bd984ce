"""The forms of the application pages; their fields come from the programme definitions."""

from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, TextAreaField

from app.engine.definitions import Programme
from app.models import Application
from app.web.dynamic_forms import DynamicForm, form_class, prefill


class EditForm(DynamicForm):
    """The application form, plus the row version the page was rendered with."""

    expected_version = HiddenField()


class TransitionForm(DynamicForm):
    """A step: the step's own form (if any), a comment, and the row version."""

    comment = TextAreaField(_l("Comment or reason"), render_kw={"maxlength": 2000, "rows": 4})
    expected_version = HiddenField()


def edit_form(programme: Programme, application: Application) -> EditForm:
    """The application form filled with the stored data (or with what was just posted)."""
    form_def = programme.form_in(application.state)
    cls = form_class(programme, form_def, EditForm)
    if request.method == "POST":
        form = cls()  # a posted form keeps exactly what was typed
    else:
        form = cls(data=prefill(form_def, application.data))
        form.expected_version.data = str(application.version)
    form.pad_tables(form_def)
    return form  # type: ignore[return-value]


def transition_form(programme: Programme, application: Application,
                    form_key: str | None) -> TransitionForm:
    """The form of one step, holding the row version the page was rendered with."""
    cls = form_class(programme, form_key, TransitionForm)
    form = cls()
    if not form.is_submitted():
        form.expected_version.data = str(application.version)
    if form_key:
        form.pad_tables(programme.forms[form_key])
    return form  # type: ignore[return-value]
