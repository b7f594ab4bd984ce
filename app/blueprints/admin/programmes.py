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
                           fire_text=lambda state: localised(
                               item.transition(item.states[state]["deadline"]["fire"], state)
                               or {"label": item.states[state]["deadline"]["fire"]}),
                           fill_text=lambda state: "、".join(
                               localised(section, "title")
                               for section in item.form_in(state).raw["sections"]),
                           type_label=type_label)


def guard_text(programme: Programme, ref: dict[str, Any]) -> str:
    """A guard as a sentence, with its parameters (state names shown as their labels)."""
    names = {
        "call_open": _("The call is open"),
        "form_complete": _("Every required field is filled in"),
        "within_quota": _("The district quota is not used up"),
        "all_reviews_submitted": _("Every assigned expert has submitted"),
        "one_entry_per": _("At most so many entries per applicant or unit in the call"),
        "not_prior_winner": _("Not awarded in this programme in recent years"),
        "field_at_least": _("A form value is at least the minimum"),
        "date_years_before": _("A date in the form is long enough ago"),
        "has_attachment": _("A file is attached"),
        "no_open_objection": _("No objection is waiting for a decision"),
        "award_confirmed": _("The award level is confirmed"),
        "district_minimum": _("The district still reaches its minimum"),
        "round_score_at_least": _("The round's score reaches the pass mark"),
        "round_score_below": _("The round's score stays below the pass mark"),
    }
    params_names = {"states": _("states counted"), "min": _("at least"), "max": _("at most"),
                    "by": _("counted per"), "field": _("field"), "years": _("years"),
                    "levels": _("levels"), "awarded": _("awarded"), "round": _("round")}
    text = names.get(ref["name"]) or GUARDS[ref["name"]].description
    params = []
    defaults = {key: param.default for key, param in GUARDS[ref["name"]].params.items()}
    for key, value in ref["params"].items():
        if value is None or (key in defaults and value == defaults[key]
                             and isinstance(value, bool)):
            continue  # a flag left at its default says nothing
        if isinstance(value, list):
            value = "、".join(programme.label(v) for v in value)
        elif key == "round":
            value = programme.label(value)
        elif key == "by":
            value = {"applicant": _("applicant"), "unit": _("unit"),
                     "field": _("field")}.get(value, value)
        elif isinstance(value, bool):
            value = _("yes") if value else _("no")
        params.append(f"{params_names.get(key, key)}：{value}")
    return f"{text}（{'；'.join(params)}）" if params else text


def type_label(kind: str) -> str:
    """A field type's name for people."""
    return {
        "text": _("Text"), "textarea": _("Long text"), "integer": _("Whole number"),
        "decimal": _("Number"), "date": _("Date"), "choice": _("Single choice"),
        "multi_choice": _("Multiple choice"), "boolean": _("Tick box"), "phone": _("Phone"),
        "id_number": _("ID number"), "email": _("E-mail"), "file": _("File upload"),
        "table": _("Table"),
    }.get(kind, kind)
