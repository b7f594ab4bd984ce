"""The programme definitions, shown so that a bureau official can read them."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template
from flask_babel import gettext as _
from markupsafe import Markup

from app.blueprints.admin.views import bp
from app.engine.definitions import Programme
from app.engine.diagram import workflow_svg
from app.engine.registry import GUARDS
from app.i18n import localised, role_label
from app.models import Role
from app.services.programmes import catalogue
from app.web.access import roles_required


@bp.route("/programmes")
@roles_required(Role.CITY_ADMIN)
def programmes() -> Any:
    """List the programmes defined in workflows/."""
    return render_template("admin/programmes.html",
                           programmes=sorted(catalogue().values(), key=lambda p: p.key))


@bp.route("/programmes/<key>")
@roles_required(Role.CITY_ADMIN)
def programme(key: str) -> Any:
    """One programme: states, transitions with roles and guards, forms, rubrics."""
    item = catalogue().get(key)
    if item is None:
        abort(404)
    return render_template("admin/programme.html", programme=item, role_label=role_label,
                           diagram=Markup(workflow_svg(item.workflow, role_label=role_label,
                                                       label=localised)),
                           guard_text=lambda ref: guard_text(item, ref),
                           type_label=type_label)


def guard_text(programme: Programme, ref: dict[str, Any]) -> str:
    """A guard as a sentence, with its parameters (state names shown as their labels)."""
    names = {
        "call_open": _("The call is open"),
        "form_complete": _("Every required field is filled in"),
        "within_quota": _("The district quota is not used up"),
        "all_reviews_submitted": _("Every assigned expert has submitted"),
    }
    params_names = {"states": _("states counted"), "min": _("at least")}
    text = names.get(ref["name"]) or GUARDS[ref["name"]].description
    params = []
    for key, value in ref["params"].items():
        if isinstance(value, list):
            value = "、".join(programme.label(v) for v in value)
        if value is not None:
            params.append(f"{params_names.get(key, key)}：{value}")
    return f"{text}（{'；'.join(params)}）" if params else text


def type_label(kind: str) -> str:
    """A field type's name for people."""
    return {
        "text": _("Text"), "textarea": _("Long text"), "integer": _("Whole number"),
        "decimal": _("Number"), "date": _("Date"), "choice": _("Single choice"),
        "multi_choice": _("Multiple choice"), "boolean": _("Tick box"), "phone": _("Phone"),
        "email": _("E-mail"), "file": _("File upload"), "table": _("Table"),
    }.get(kind, kind)
